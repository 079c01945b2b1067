//! One lane to a local model: every request of the process is run by one thread, so concurrent
//! callers (ingestion workers, searches) never run the model side by side — one run already
//! uses every core, and two would only share them worse — and requests that arrive while it is
//! busy are run together in one batch.
//!
//! No request waits for company: an idle lane runs what it has at once. A small request (at most
//! one batch) goes before the rest of a large one, which is run a batch at a time, so a search
//! waits for at most one batch of an ingestion; a large request keeps a quarter of each batch, so
//! searches cannot stall it. A request whose caller has gone is dropped.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::error::EmbedError;

/// Runs the model on one batch of token sequences: for each, its vector, or where `states[s]`
/// holds, its tokens' hidden states one row after another.
pub(crate) trait Forward: Send + Sync + 'static {
    fn forward(&self, sequences: &[&[u32]], states: &[bool]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

type Reply = oneshot::Sender<Result<Vec<Vec<f32>>, EmbedError>>;

struct Request {
    ids: Vec<Vec<u32>>,
    /// The tokens' hidden states are wanted, not the sequences' vectors.
    states: bool,
    reply: Reply,
}

pub(crate) struct Lane {
    requests: mpsc::Sender<Request>,
}

impl Lane {
    /// Starts the lane's thread; it stops once the lane is dropped and its queue is done.
    pub fn start(name: &str, model: Arc<dyn Forward>, batch_size: usize) -> Self {
        let (requests, queue) = mpsc::channel();
        let batch_size = batch_size.max(1);
        std::thread::Builder::new()
            .name(format!("model-{name}"))
            .spawn(move || run(model.as_ref(), batch_size, &queue))
            .expect("a thread for the model");
        Self { requests }
    }

    /// The vectors of `ids`, in order.
    pub async fn embed(&self, ids: Vec<Vec<u32>>) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.send(ids, false).await
    }

    /// The hidden states of the tokens of each of `ids` (tokens × hidden, one row after
    /// another), in order.
    pub async fn token_states(&self, ids: Vec<Vec<u32>>) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.send(ids, true).await
    }

    async fn send(&self, ids: Vec<Vec<u32>>, states: bool) -> Result<Vec<Vec<f32>>, EmbedError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request { ids, states, reply })
            .map_err(|_| EmbedError::internal_msg("the model's thread has stopped"))?;
        answer
            .await
            .map_err(|_| EmbedError::internal_msg("the model's thread has stopped"))?
    }
}

/// A request in the lane: its texts longest first (attention pads to the longest of a batch).
struct Pending {
    ids: Vec<Vec<u32>>,
    states: bool,
    order: Vec<usize>,
    next: usize,
    out: Vec<Vec<f32>>,
    reply: Option<Reply>,
}

impl Pending {
    fn new(r: Request) -> Self {
        let mut order: Vec<usize> = (0..r.ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(r.ids[i].len()));
        Self {
            out: vec![Vec::new(); r.ids.len()],
            ids: r.ids,
            states: r.states,
            order,
            next: 0,
            reply: Some(r.reply),
        }
    }

    fn done(&self) -> bool {
        self.next == self.order.len()
    }

    fn abandoned(&self) -> bool {
        self.reply.as_ref().is_none_or(oneshot::Sender::is_closed)
    }
}

#[derive(Default)]
struct Queues {
    /// At most one batch each, in arrival order.
    small: VecDeque<Pending>,
    large: VecDeque<Pending>,
}

impl Queues {
    fn admit(&mut self, r: Request, batch_size: usize) {
        if r.ids.is_empty() {
            let _ = r.reply.send(Ok(Vec::new()));
        } else if r.ids.len() <= batch_size {
            self.small.push_back(Pending::new(r));
        } else {
            self.large.push_back(Pending::new(r));
        }
    }

    fn is_empty(&self) -> bool {
        self.small.is_empty() && self.large.is_empty()
    }
}

fn run(model: &dyn Forward, batch_size: usize, queue: &mpsc::Receiver<Request>) {
    let mut q = Queues::default();
    loop {
        if q.is_empty() {
            match queue.recv() {
                Ok(r) => q.admit(r, batch_size),
                Err(_) => return,
            }
        }
        while let Ok(r) = queue.try_recv() {
            q.admit(r, batch_size);
        }
        q.small.retain(|p| !p.abandoned());
        q.large.retain(|p| !p.abandoned());
        run_one_batch(model, batch_size, &mut q);
    }
}

/// Takes up to `batch_size` texts, small requests first, runs them, answers every request
/// that is complete (or every request of the batch with the error).
fn run_one_batch(model: &dyn Forward, batch_size: usize, q: &mut Queues) {
    // (small?, position in its queue, how many texts from it)
    let mut taken: Vec<(bool, usize, usize)> = Vec::new();
    // A large request always gets a quarter of the batch, so that a stream of searches cannot
    // stall an ingestion.
    let reserved = if q.large.is_empty() {
        0
    } else {
        (batch_size / 4).max(1).min(batch_size - 1)
    };
    let mut room = batch_size;
    for (small, queue) in [(true, &q.small), (false, &q.large)] {
        let mut room_here = if small { room - reserved } else { room };
        for (pos, p) in queue.iter().enumerate() {
            if room_here == 0 {
                break;
            }
            let n = (p.order.len() - p.next).min(room_here);
            taken.push((small, pos, n));
            room_here -= n;
            room -= n;
        }
    }
    if taken.is_empty() {
        return;
    }
    let result = {
        let sequences: Vec<&[u32]> = taken
            .iter()
            .flat_map(|&(small, pos, n)| {
                let p = if small { &q.small[pos] } else { &q.large[pos] };
                p.order[p.next..p.next + n]
                    .iter()
                    .map(|&i| p.ids[i].as_slice())
            })
            .collect();
        let states: Vec<bool> = taken
            .iter()
            .flat_map(|&(small, pos, n)| {
                let p = if small { &q.small[pos] } else { &q.large[pos] };
                std::iter::repeat_n(p.states, n)
            })
            .collect();
        let expected = sequences.len();
        std::panic::catch_unwind(AssertUnwindSafe(|| model.forward(&sequences, &states)))
            .unwrap_or_else(|_| Err(EmbedError::internal_msg("the model panicked")))
            .and_then(|v| {
                if v.len() == expected {
                    Ok(v)
                } else {
                    Err(EmbedError::internal_msg(format!(
                        "the model gave {} vectors for {expected} texts",
                        v.len()
                    )))
                }
            })
    };
    match result {
        Ok(vectors) => {
            let mut vectors = vectors.into_iter();
            for &(small, pos, n) in &taken {
                let p = if small {
                    &mut q.small[pos]
                } else {
                    &mut q.large[pos]
                };
                for k in p.next..p.next + n {
                    let index = p.order[k];
                    p.out[index] = vectors.next().expect("one vector per text, checked above");
                }
                p.next += n;
                if p.done()
                    && let Some(reply) = p.reply.take()
                {
                    let _ = reply.send(Ok(std::mem::take(&mut p.out)));
                }
            }
        }
        Err(e) => {
            let message = match e {
                EmbedError::Internal { message, .. } => message,
                other @ (EmbedError::UnknownModel { .. }
                | EmbedError::InputTooLong { .. }
                | EmbedError::InvalidInput(_)
                | EmbedError::Unavailable { .. }) => other.to_string(),
            };
            for &(small, pos, _) in &taken {
                let p = if small {
                    &mut q.small[pos]
                } else {
                    &mut q.large[pos]
                };
                p.next = p.order.len();
                if let Some(reply) = p.reply.take() {
                    let _ = reply.send(Err(EmbedError::internal_msg(message.clone())));
                }
            }
        }
    }
    q.small.retain(|p| !p.done());
    q.large.retain(|p| !p.done());
}

#[cfg(test)]
mod tests {
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    use super::*;

    /// Vector of a sequence: [its first id, its length]; records each batch's first ids; waits
    /// while its gate is closed, so requests pile up.
    #[derive(Default)]
    struct Fake {
        batches: Mutex<Vec<Vec<u32>>>,
        closed: Mutex<bool>,
        opened: Condvar,
    }

    impl Fake {
        fn close(&self) {
            *self.closed.lock().unwrap() = true;
        }

        fn open(&self) {
            *self.closed.lock().unwrap() = false;
            self.opened.notify_all();
        }
    }

    impl Forward for Fake {
        fn forward(
            &self,
            sequences: &[&[u32]],
            states: &[bool],
        ) -> Result<Vec<Vec<f32>>, EmbedError> {
            let closed = self
                .closed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            drop(
                self.opened
                    .wait_while(closed, |closed| *closed)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            if sequences.iter().any(|s| s[0] == 666) {
                panic!("a crafted input");
            }
            if sequences.iter().any(|s| s[0] == 13) {
                return Err(EmbedError::internal_msg("unlucky"));
            }
            if sequences.iter().any(|s| s[0] == 42) {
                return Ok(Vec::new());
            }
            self.batches
                .lock()
                .unwrap()
                .push(sequences.iter().map(|s| s[0]).collect());
            Ok(sequences
                .iter()
                .zip(states)
                .map(|(s, &states)| {
                    if states {
                        s.iter().map(|&id| id as f32).collect()
                    } else {
                        vec![s[0] as f32, s.len() as f32]
                    }
                })
                .collect())
        }
    }

    fn seq(id: u32, len: usize) -> Vec<u32> {
        let mut v = vec![id];
        v.resize(len, 0);
        v
    }

    #[tokio::test]
    async fn vectors_come_back_in_request_order_whatever_the_batching() {
        let fake = Arc::new(Fake::default());
        let lane = Lane::start("t", fake.clone(), 3);
        let ids = vec![seq(1, 2), seq(2, 9), seq(3, 5), seq(4, 7), seq(5, 1)];
        let v = lane.embed(ids).await.unwrap();
        assert_eq!(
            v,
            vec![
                vec![1.0, 2.0],
                vec![2.0, 9.0],
                vec![3.0, 5.0],
                vec![4.0, 7.0],
                vec![5.0, 1.0]
            ]
        );
        // Longest first, three at a time.
        assert_eq!(
            *fake.batches.lock().unwrap(),
            vec![vec![2, 4, 3], vec![1, 5]]
        );
        assert!(lane.embed(Vec::new()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn requests_that_arrive_while_the_model_runs_are_run_together_small_ones_first() {
        let fake = Arc::new(Fake::default());
        let lane = Arc::new(Lane::start("t", fake.clone(), 4));
        fake.close();
        let mut tasks = Vec::new();
        // A large request (two batches) whose first batch starts, then three one-text searches.
        let large = {
            let lane = lane.clone();
            tokio::spawn(async move { lane.embed((20..26).map(|i| seq(i, 3)).collect()).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        for id in [100, 101, 102] {
            let lane = lane.clone();
            tasks.push(tokio::spawn(
                async move { lane.embed(vec![seq(id, 1)]).await },
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        fake.open();
        for (t, id) in tasks.into_iter().zip([100, 101, 102]) {
            assert_eq!(t.await.unwrap().unwrap(), vec![vec![id as f32, 1.0]]);
        }
        assert_eq!(large.await.unwrap().unwrap().len(), 6);
        let batches = fake.batches.lock().unwrap().clone();
        assert_eq!(
            batches,
            vec![vec![20, 21, 22, 23], vec![100, 101, 102, 24], vec![25]],
            "the searches went together, before the rest of the large request"
        );
    }

    #[tokio::test]
    async fn a_stream_of_small_requests_leaves_a_large_one_a_quarter_of_each_batch() {
        let fake = Arc::new(Fake::default());
        let lane = Arc::new(Lane::start("t", fake.clone(), 4));
        fake.close();
        let first = {
            let lane = lane.clone();
            tokio::spawn(async move { lane.embed(vec![seq(1, 1)]).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let large = {
            let lane = lane.clone();
            tokio::spawn(async move { lane.embed((20..26).map(|i| seq(i, 3)).collect()).await })
        };
        let mut small = Vec::new();
        for id in 100..108 {
            let lane = lane.clone();
            small.push(tokio::spawn(
                async move { lane.embed(vec![seq(id, 1)]).await },
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        fake.open();
        first.await.unwrap().unwrap();
        for t in small {
            t.await.unwrap().unwrap();
        }
        assert_eq!(large.await.unwrap().unwrap().len(), 6);
        let batches = fake.batches.lock().unwrap().clone();
        assert_eq!(
            batches[1..3],
            [vec![100, 101, 102, 20], vec![103, 104, 105, 21]],
            "{batches:?}"
        );
    }

    #[tokio::test]
    async fn a_failure_a_panic_or_a_short_answer_fails_that_batch_and_the_lane_goes_on() {
        let fake = Arc::new(Fake::default());
        let lane = Lane::start("t", fake.clone(), 8);
        let err = lane.embed(vec![seq(13, 2)]).await.unwrap_err();
        assert!(err.to_string().contains("unlucky"), "{err}");
        let err = lane.embed(vec![seq(666, 2)]).await.unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
        let err = lane.embed(vec![seq(42, 2)]).await.unwrap_err();
        assert!(err.to_string().contains("0 vectors for 1 texts"), "{err}");
        assert_eq!(
            lane.embed(vec![seq(7, 2)]).await.unwrap(),
            vec![vec![7.0, 2.0]]
        );
    }

    #[tokio::test]
    async fn a_request_whose_caller_has_gone_is_not_run() {
        let fake = Arc::new(Fake::default());
        let lane = Arc::new(Lane::start("t", fake.clone(), 2));
        fake.close();
        let first = {
            let lane = lane.clone();
            tokio::spawn(async move { lane.embed(vec![seq(1, 1)]).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let gone = {
            let lane = lane.clone();
            tokio::spawn(async move { lane.embed(vec![seq(2, 1), seq(3, 1), seq(4, 1)]).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        gone.abort();
        let _ = gone.await;
        fake.open();
        first.await.unwrap().unwrap();
        assert_eq!(lane.embed(vec![seq(5, 1)]).await.unwrap().len(), 1);
        assert_eq!(*fake.batches.lock().unwrap(), vec![vec![1], vec![5]]);
    }
}
