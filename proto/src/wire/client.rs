//! One blocking wire connection: a call writes its frame and reads the answer on the calling
//! thread. The buffer that carried a request or an answer (PINs, key values, plaintext) is wiped
//! after each call.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::RecvFlags;

use prost::Message;

use super::counted::Count;
use super::{
    ANSWER_OK, ANSWER_STATUS, FRAME_HEADER_BYTES, MAX_APPLICATION_ID_BYTES, Method, PREFACE, WireStatus,
};
use crate::CONNECT_TIMEOUT;

/// Why a call got no response message.
#[derive(Debug)]
pub enum CallError {
    /// The daemon answered with a status.
    Status(tonic::Status),
    /// The connection failed or timed out: its state is unknown and it must not be used again.
    Io(io::Error),
    /// The daemon's answer was not a frame of this wire, or did not decode.
    Protocol,
}

/// How long a caller polls for an answer before it sleeps.
const SPIN: Duration = Duration::from_micros(60);
/// Calls in progress in this process. With more than one, polling would take a processor the
/// daemon needs for them: only a call alone polls.
static IN_FLIGHT: Count = Count::new();

/// An open connection of one application.
#[derive(Debug)]
pub struct WireConnection {
    stream: UnixStream,
    /// The preface, until it goes out with the first request.
    preface: Option<Vec<u8>>,
    buffer: Vec<u8>,
    max_answer_bytes: usize,
}

impl WireConnection {
    /// Connects to the socket at `path` for the application `application_id` (empty for the
    /// connection that attaches). Nothing is sent before the first call, which carries the
    /// preface. `deadline` bounds each read and write; `max_answer_bytes` the answers accepted.
    pub fn open(
        path: &Path,
        application_id: &str,
        deadline: Duration,
        max_answer_bytes: usize,
    ) -> io::Result<Self> {
        let id = application_id.as_bytes();
        if id.len() > MAX_APPLICATION_ID_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "application id too long"));
        }
        let stream = connect(path, deadline.min(CONNECT_TIMEOUT))?;
        stream.set_read_timeout(Some(deadline))?;
        stream.set_write_timeout(Some(deadline))?;
        let mut preface = Vec::with_capacity(PREFACE.len() + 2 + id.len());
        preface.extend_from_slice(PREFACE);
        preface.extend_from_slice(&(id.len() as u16).to_le_bytes());
        preface.extend_from_slice(id);
        Ok(Self { stream, preface: Some(preface), buffer: Vec::new(), max_answer_bytes })
    }

    /// Sends one request and reads its answer.
    pub fn call<Req: Message, Resp: Message + Default>(
        &mut self,
        method: Method<Req, Resp>,
        request: &Req,
    ) -> Result<Resp, CallError> {
        let answer = self.exchange(method.id, request);
        wipe(&mut self.buffer);
        answer
    }

    fn exchange<Req: Message, Resp: Message + Default>(
        &mut self,
        method: u8,
        request: &Req,
    ) -> Result<Resp, CallError> {
        let _in_flight = IN_FLIGHT.enter();
        let body = request.encoded_len() + 1;
        let length = u32::try_from(body).map_err(|_| CallError::Io(too_large()))?;
        self.buffer.clear();
        if let Some(preface) = self.preface.take() {
            self.buffer.extend_from_slice(&preface);
        }
        self.buffer.reserve(FRAME_HEADER_BYTES + body);
        self.buffer.extend_from_slice(&length.to_le_bytes());
        self.buffer.push(method);
        request.encode(&mut self.buffer).map_err(|_| CallError::Io(too_large()))?;
        self.stream.write_all(&self.buffer).map_err(CallError::Io)?;

        let mut header = [0u8; FRAME_HEADER_BYTES];
        self.read_answer_header(&mut header).map_err(CallError::Io)?;
        let [l0, l1, l2, l3, kind] = header;
        let length = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
        let Some(message_bytes) = length.checked_sub(1).filter(|&n| n <= self.max_answer_bytes) else {
            return Err(CallError::Protocol);
        };
        // The request is wiped before the buffer grows for the answer (which may reallocate).
        wipe(&mut self.buffer);
        self.buffer.resize(message_bytes, 0);
        self.stream.read_exact(&mut self.buffer).map_err(CallError::Io)?;
        match kind {
            ANSWER_OK => Resp::decode(self.buffer.as_slice()).map_err(|_| CallError::Protocol),
            ANSWER_STATUS => {
                let status = WireStatus::decode(self.buffer.as_slice()).map_err(|_| CallError::Protocol)?;
                Err(CallError::Status(status.into_status()))
            }
            _ => Err(CallError::Protocol),
        }
    }

    /// Reads an answer's header. A call alone in the process first polls for it for up to
    /// [`SPIN`] without sleeping, so that a quick answer costs no wake-up of the calling thread
    /// (measured in `docs/benchmarks.md`); with other calls in progress it sleeps at once.
    fn read_answer_header(&mut self, header: &mut [u8; FRAME_HEADER_BYTES]) -> io::Result<()> {
        let mut filled = 0;
        if IN_FLIGHT.get() == 1 {
            let until = Instant::now() + SPIN;
            while filled < header.len() && IN_FLIGHT.get() == 1 {
                let rest = header.get_mut(filled..).unwrap_or_default();
                match rustix::net::recv(&self.stream, rest, RecvFlags::DONTWAIT) {
                    Ok((0, _)) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok((read, _)) => filled += read,
                    Err(Errno::AGAIN | Errno::INTR) if Instant::now() < until => std::hint::spin_loop(),
                    Err(Errno::AGAIN | Errno::INTR) => break,
                    Err(error) => return Err(error.into()),
                }
            }
        }
        self.stream.read_exact(header.get_mut(filled..).unwrap_or_default())
    }

    /// Ends the connection for every process that holds it (a forked child keeps a copy of the
    /// descriptor, which closing it here would leave open).
    pub fn shut_down(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    /// Keeps this connection only to learn when the daemon closes it: for the attaching
    /// connection, on which nothing follows the answer (the daemon closes it when it ends the
    /// application).
    pub fn hold(self) -> io::Result<HeldConnection> {
        self.stream.set_nonblocking(true)?;
        Ok(HeldConnection { stream: self.stream })
    }
}

/// A connection kept open for its end alone (see [`WireConnection::hold`]).
#[derive(Debug)]
pub struct HeldConnection {
    stream: UnixStream,
}

impl HeldConnection {
    /// Ends the connection for every process that holds it (see [`WireConnection::shut_down`]):
    /// the daemon ends the application.
    pub fn shut_down(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    /// True once the daemon has closed the connection (or it failed), without waiting. A byte
    /// arriving on it breaks the protocol and counts as closed too.
    pub fn is_closed(&self) -> bool {
        match (&self.stream).read(&mut [0u8; 1]) {
            Err(error) => error.kind() != io::ErrorKind::WouldBlock,
            // End of stream, or a byte that should not be there.
            Ok(0 | 1..) => true,
        }
    }
}

/// Connects to a Unix socket, waiting at most `timeout`: Linux bounds a connect that waits for
/// room in the listener's backlog by the socket's send timeout.
fn connect(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType, sockopt};
    let socket =
        rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    sockopt::set_socket_timeout(&socket, sockopt::Timeout::Send, Some(timeout))?;
    rustix::net::connect(&socket, &SocketAddrUnix::new(path)?)?;
    Ok(UnixStream::from(socket))
}

fn too_large() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "request too large for one frame")
}

/// The buffer kept between calls; a larger one (after a large call) is let go of once wiped.
const KEPT_BUFFER_BYTES: usize = 64 << 10;

/// Overwrites a buffer's whole allocation with zeros, then empties it.
pub(super) fn wipe(buffer: &mut Vec<u8>) {
    use zeroize::Zeroize as _;
    buffer.zeroize();
    if buffer.capacity() > KEPT_BUFFER_BYTES {
        *buffer = Vec::new();
    }
}
