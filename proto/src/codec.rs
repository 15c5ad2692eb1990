//! The codec of every generated client and server: prost's, except that a message that does not
//! decode is `INVALID_ARGUMENT` (the caller sent bytes that are not the message) instead of
//! prost's `INTERNAL`, which would blame the daemon for a malformed request.

use std::marker::PhantomData;

use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::{Code, Status};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// [`ProstCodec`] with decode failures mapped to `INVALID_ARGUMENT`.
#[derive(Debug, Clone)]
pub struct ArcaCodec<T, U> {
    _types: PhantomData<(T, U)>,
}

impl<T, U> Default for ArcaCodec<T, U> {
    fn default() -> Self {
        Self { _types: PhantomData }
    }
}

impl<T, U> Codec for ArcaCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ArcaDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ArcaDecoder { inner: ProstCodec::<T, U>::raw_decoder(BufferSettings::default()) }
    }
}

/// Prost's decoder, its failures reclassified.
#[derive(Debug, Clone)]
pub struct ArcaDecoder<U> {
    inner: ProstDecoder<U>,
}

impl<U: prost::Message + Default> Decoder for ArcaDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.inner.decode(buf).map_err(|status| match status.code() {
            Code::Internal => Status::invalid_argument(format!("malformed message: {}", status.message())),
            _ => status,
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}
