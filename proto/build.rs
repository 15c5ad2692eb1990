//! Compiles the `.proto` files with `protox`, a protobuf compiler written in Rust, so building
//! needs neither a `protoc` binary nor a download.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/arca/v1/kms.proto", "proto/arca/v1/admin.proto"];
    for file in &files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(descriptors)?;
    Ok(())
}
