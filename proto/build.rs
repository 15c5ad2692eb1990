//! Compiles the `.proto` files with `protox`, a protobuf compiler written in Rust, so building
//! needs neither a `protoc` binary nor a download.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/arca/v1/kms.proto", "proto/arca/v1/admin.proto", "proto/arca/v1/token.proto"];
    for file in &files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    // Served by gRPC server reflection, so tools such as grpcurl can discover the API.
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("arca_descriptor.bin"), prost::Message::encode_to_vec(&descriptors))?;
    // Malformed requests are INVALID_ARGUMENT, not prost's INTERNAL (see src/codec.rs).
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::codec::ArcaCodec")
        .compile_fds(descriptors)?;
    Ok(())
}
