//! An actor several tests use.

use std::time::Duration;

use kameo::{
    Actor,
    actor::ActorRef,
    error::Infallible,
    message::{Context, Message},
};
use omg::Publisher;
use omg_tokio::TopicMessage;

/// Doubles each number and publishes it on its output topic, after
/// `delay` (zero: at once). Its input never lags in these tests.
pub(crate) struct Doubler {
    out: Publisher<u64>,
    delay: Duration,
}

impl Actor for Doubler {
    type Args = (Publisher<u64>, Duration);
    type Error = Infallible;

    async fn on_start(
        (out, delay): (Publisher<u64>, Duration),
        _: ActorRef<Self>,
    ) -> Result<Self, Infallible> {
        Ok(Self { out, delay })
    }
}

impl Message<TopicMessage<u64>> for Doubler {
    type Reply = Result<u64, omg::Error>;

    async fn handle(
        &mut self,
        m: TopicMessage<u64>,
        _: &mut Context<Self, Self::Reply>,
    ) -> Self::Reply {
        assert_eq!(m.missed, 0, "the input never lags in these tests");
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.out.publish_async(m.into_value() * 2).await
    }
}
