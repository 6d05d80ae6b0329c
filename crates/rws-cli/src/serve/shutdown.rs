//! The server's shutdown, as every connection waits for it: a flag, and the
//! wakers of the tasks waiting. A connection's wait is registered once and
//! then costs one atomic load each time it is looked at, around every
//! message: made anew around every receive (tokio's `watch::wait_for`, as
//! before), it cost more instructions than the echo itself.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// The shutdown signal, shared by the server and its connections.
#[derive(Clone, Debug, Default)]
pub(super) struct Shutdown {
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    stopped: AtomicBool,
    /// The waiting tasks' wakers, by wait.
    waiters: Mutex<HashMap<u64, Waker>>,
    next_id: AtomicU64,
}

impl Shutdown {
    /// Starts the shutdown: every wait resolves, now and from now on.
    pub(super) fn stop(&self) {
        self.state.stopped.store(true, Ordering::Release);
        let waiters = std::mem::take(&mut *self.state.waiters.lock().expect("not poisoned"));
        for waker in waiters.into_values() {
            waker.wake();
        }
    }

    /// A future that resolves once [`stop`](Self::stop) was called. Make
    /// it once and poll it again and again (`&mut` in a `select!`).
    pub(super) fn stopped(&self) -> Stopped {
        Stopped {
            state: self.state.clone(),
            id: self.state.next_id.fetch_add(1, Ordering::Relaxed),
            registered: None,
        }
    }
}

/// The wait of one task for the shutdown.
#[derive(Debug)]
pub(super) struct Stopped {
    state: Arc<State>,
    id: u64,
    /// The waker given to the state, if any.
    registered: Option<Waker>,
}

impl Future for Stopped {
    type Output = ();

    /// Inline, and the registration out of line: looked at around every
    /// message, the common answer (not stopped, this task's waker already
    /// given) is an atomic load and a waker comparison.
    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.stopped.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if self
            .registered
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        self.register(cx.waker())
    }
}

impl Stopped {
    /// Gives this task's waker to the state (ready if the stop came first).
    #[cold]
    fn register(&mut self, waker: &Waker) -> Poll<()> {
        let mut waiters = self.state.waiters.lock().expect("not poisoned");
        // `stop` sets the flag before it takes the wakers: checked again
        // under the lock, a stop is either seen here or finds this waker.
        if self.state.stopped.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        waiters.insert(self.id, waker.clone());
        drop(waiters);
        self.registered = Some(waker.clone());
        Poll::Pending
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if self.registered.is_some() {
            if let Ok(mut waiters) = self.state.waiters.lock() {
                waiters.remove(&self.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wait_registered_before_the_stop_is_woken() {
        let shutdown = Shutdown::default();
        let wait = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { shutdown.stopped().await }
        });
        // Let the task register its waker, then stop.
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        assert!(!wait.is_finished());
        shutdown.stop();
        tokio::time::timeout(std::time::Duration::from_secs(5), wait)
            .await
            .expect("woken by the stop")
            .expect("no panic");
    }

    #[tokio::test]
    async fn a_wait_made_after_the_stop_resolves_at_once() {
        let shutdown = Shutdown::default();
        shutdown.stop();
        tokio::time::timeout(std::time::Duration::from_secs(5), shutdown.stopped())
            .await
            .expect("already stopped");
    }

    #[tokio::test]
    async fn a_dropped_wait_leaves_no_waker_behind() {
        let shutdown = Shutdown::default();
        let mut wait = Box::pin(shutdown.stopped());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert!(wait.as_mut().poll(&mut cx).is_pending(), "polled again");
        assert_eq!(shutdown.state.waiters.lock().unwrap().len(), 1);
        drop(wait);
        assert_eq!(shutdown.state.waiters.lock().unwrap().len(), 0);
    }
}
