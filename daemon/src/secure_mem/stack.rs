//! Wiping the stack below the caller. A key schedule or a key on its way into a locked buffer is
//! moved through stack temporaries (a `Result` returned by value, a cipher built then moved), and
//! only the last home is zeroized on drop: the others stay in the frames of functions that have
//! returned, until a deeper call happens to overwrite them.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};

/// How much stack below the caller is overwritten: deeper than any call path of one request.
const STACK_WIPE_BYTES: usize = 32 * 1024;

/// Overwrites the stack below the caller's frame, where the frames of the calls it made lay.
#[inline(never)]
pub fn wipe_stack_below() {
    let mut area = [0u8; STACK_WIPE_BYTES];
    // Observed, so the zeroing cannot be elided.
    black_box(&mut area);
}

/// A future whose every poll is followed by [`wipe_stack_below`], on the thread that polled it:
/// an async call may run its crypto in one poll on one worker thread and finish in another.
#[derive(Debug)]
pub struct StackWiping<F>(Pin<Box<F>>);

/// Runs `future` with the stack wiped after each of its polls.
pub fn wiping_stack<F: Future>(future: F) -> StackWiping<F> {
    StackWiping(Box::pin(future))
}

impl<F: Future> Future for StackWiping<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let polled = self.0.as_mut().poll(cx);
        wipe_stack_below();
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wrapped_future_keeps_its_output() {
        let answer = wiping_stack(async {
            tokio::task::yield_now().await;
            42
        })
        .await;
        assert_eq!(answer, 42);
    }
}
