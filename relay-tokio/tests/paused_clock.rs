//! `TokioRuntime` reads tokio's clock, so a paused test clock drives the client's time and
//! its resettable timer.

use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;

use std::pin::Pin;

use relay_tokio::{AsyncTimer, Runtime, TokioRuntime};

/// Whether the timer has expired, polled once.
async fn expired(timer: &mut Pin<Box<dyn AsyncTimer>>) -> bool {
    poll_fn(|cx| Poll::Ready(timer.as_mut().poll_expired(cx).is_ready())).await
}

#[tokio::test(start_paused = true)]
async fn now_and_the_timer_follow_the_paused_clock() {
    let rt = TokioRuntime;
    let t0 = rt.now();
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(rt.now() - t0, Duration::from_secs(3600));

    let start = rt.now();
    let mut timer = rt
        .timer(start + Duration::from_secs(10))
        .expect("resettable");
    assert!(!expired(&mut timer).await);
    tokio::time::advance(Duration::from_secs(10)).await;
    assert!(expired(&mut timer).await);
    // Moved, not re-made: the same timer fires again at its new deadline.
    timer.as_mut().reset(start + Duration::from_secs(15));
    assert!(!expired(&mut timer).await);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(expired(&mut timer).await);
}
