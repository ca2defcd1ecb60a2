//! Making blocking omg calls fail inside a tokio runtime.

/// Registers omg-tokio's blocking detector with omg, once per process.
///
/// From then on every blocking omg call (`Publisher::publish` on a durable
/// topic, `Cursor::recv`, `Cursor::commit`, `Receipt::wait`,
/// `Agent::execute`, …) made on a thread that is inside a tokio runtime
/// returns [`omg::Error::BlockingForbidden`] instead of stalling an executor
/// thread. Use the `_async` or `try_` flavour there.
///
/// [`subscribe`](crate::subscribe), [`Host::new`](crate::Host::new) and
/// [`Host::spawn_agent`](crate::Host::spawn_agent) call it for you; call it
/// yourself at start-up if you use omg from tokio without them. Idempotent
/// and cheap.
///
/// A thread running [`tokio::task::spawn_blocking`] work is inside the
/// runtime too, so blocking omg calls fail there as well: wait with
/// `Handle::block_on(… _async …)` in such a closure instead.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use omg::{Agency, Delivery};
///
/// omg_tokio::install();
/// let agency = Agency::in_memory();
/// let topic = agency.topic::<u32>("orders", Delivery::exactly_once())?;
/// let refused = topic.publisher().publish(1);
/// assert!(matches!(refused, Err(omg::Error::BlockingForbidden { .. })));
/// assert_eq!(topic.publisher().publish_async(1).await?, 0);
/// # Ok(()) }
/// ```
pub fn install() {
    omg::register_blocking_detector(inside_tokio);
}

/// The detector: a thread with a current tokio runtime must not block.
fn inside_tokio() -> Option<&'static str> {
    tokio::runtime::Handle::try_current()
        .is_ok()
        .then_some("a tokio runtime")
}
