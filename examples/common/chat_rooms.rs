//! The chat example's rooms: a `ws13::broadcast::Topic` per room for the
//! members connected to this process, and a broker that carries room lines
//! and presence either within this process or, with `--redis URL`, across
//! every chat process sharing that Redis (no protocol code here).
//!
//! With Redis:
//!
//! | key | what it holds |
//! |---|---|
//! | channel `ws13chat:room:ROOM` | the room's lines; every process subscribes to `ws13chat:room:*` and fans each line out to its own members, so the sender's process gets its own lines back the same way |
//! | hash `ws13chat:members:ROOM` | `PROCESS/MEMBER` → name, for every member of every process |
//! | `ws13chat:alive:PROCESS` | set every [`ALIVE_REFRESH`] to expire after [`ALIVE_TTL`]: a process that dies (even with `kill -9`) stops counting once it expires |
//! | set `ws13chat:rooms` | rooms that had members, for the janitor |
//!
//! Presence counts only members of live processes. Each process runs a
//! janitor that removes the members of dead processes and announces them as
//! left (the process whose `HDEL` removed an entry announces it, so once).
//! Delivery is at most once: a line published while a member is
//! disconnected (its process died, or it is reconnecting) is not replayed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use ws13::PreparedMessage;
use ws13::broadcast::{Subscription, Topic, TopicOptions};

/// How often a process renews its liveness key.
#[cfg(feature = "redis")]
pub const ALIVE_REFRESH: std::time::Duration = std::time::Duration::from_secs(2);
/// How long a liveness key lasts: a process that stopped renewing it counts
/// as gone this long after its last renewal.
#[cfg(feature = "redis")]
pub const ALIVE_TTL: std::time::Duration = std::time::Duration::from_secs(6);
/// Room names are cut to this many characters.
const MAX_ROOM_CHARS: usize = 32;

/// The rooms of this process.
pub struct Rooms {
    options: TopicOptions,
    topics: Mutex<HashMap<String, Topic>>,
    broker: Broker,
}

enum Broker {
    /// Presence kept here: room → member → name.
    Local(Mutex<HashMap<String, BTreeMap<u64, String>>>),
    #[cfg(feature = "redis")]
    Redis(redis_broker::RedisBroker),
}

/// A room name from a client: letters, digits, `-` and `_`, at most
/// [`MAX_ROOM_CHARS`]; `lobby` when nothing is left.
pub fn room_name(wanted: &str) -> String {
    let name: String = wanted
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(MAX_ROOM_CHARS)
        .collect();
    if name.is_empty() {
        "lobby".to_owned()
    } else {
        name
    }
}

impl Rooms {
    /// Rooms that live in this process only.
    pub fn local(options: TopicOptions) -> Arc<Rooms> {
        Arc::new(Rooms {
            options,
            topics: Mutex::new(HashMap::new()),
            broker: Broker::Local(Mutex::new(HashMap::new())),
        })
    }

    /// Rooms shared through the Redis at `url`: connects, subscribes to
    /// every room's channel, and starts the liveness and janitor tasks.
    #[cfg(feature = "redis")]
    pub async fn redis(url: &str, options: TopicOptions) -> Result<Arc<Rooms>, String> {
        redis_broker::connect(url, options).await
    }

    /// Subscribes a member of `room` to its lines.
    pub fn subscribe(&self, room: &str) -> Subscription {
        let mut topics = lock(&self.topics);
        topics
            .entry(room.to_owned())
            .or_insert_with(|| Topic::new(self.options))
            .subscribe()
    }

    /// Lets go of an unsubscribed room's topic once nobody is in it, so
    /// rooms that come and go hold no memory.
    pub fn forget_if_empty(&self, room: &str) {
        let mut topics = lock(&self.topics);
        if topics.get(room).is_some_and(Topic::is_empty) {
            topics.remove(room);
        }
    }

    /// Sends a line to every member of the room, in every process.
    pub async fn say(&self, room: &str, line: String) {
        match &self.broker {
            Broker::Local(_) => self.deliver(room, line),
            #[cfg(feature = "redis")]
            Broker::Redis(redis) => redis.publish(room, &line).await,
        }
    }

    /// Fans a line out to this process's members of `room`: framed once,
    /// queued on each by reference.
    fn deliver(&self, room: &str, line: String) {
        let topic = lock(&self.topics).get(room).cloned();
        if let Some(topic) = topic {
            topic.publish(&PreparedMessage::text(line));
        }
    }

    /// Records a member's arrival; returns how many are in the room now.
    pub async fn join(&self, room: &str, member: u64, name: &str) -> usize {
        match &self.broker {
            Broker::Local(presence) => {
                let mut presence = lock(presence);
                let members = presence.entry(room.to_owned()).or_default();
                members.insert(member, name.to_owned());
                members.len()
            }
            #[cfg(feature = "redis")]
            Broker::Redis(redis) => redis.join(room, member, name).await,
        }
    }

    /// Records a member's departure; returns how many are left in the room.
    pub async fn leave(&self, room: &str, member: u64) -> usize {
        match &self.broker {
            Broker::Local(presence) => {
                let mut presence = lock(presence);
                let Some(members) = presence.get_mut(room) else {
                    return 0;
                };
                members.remove(&member);
                let left = members.len();
                if left == 0 {
                    presence.remove(room);
                }
                left
            }
            #[cfg(feature = "redis")]
            Broker::Redis(redis) => redis.leave(room, member).await,
        }
    }

    /// The names of the room's members, in every process, sorted.
    pub async fn who(&self, room: &str) -> Vec<String> {
        let mut names: Vec<String> = match &self.broker {
            Broker::Local(presence) => lock(presence)
                .get(room)
                .map(|members| members.values().cloned().collect())
                .unwrap_or_default(),
            #[cfg(feature = "redis")]
            Broker::Redis(redis) => redis.who(room).await,
        };
        names.sort();
        names
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(feature = "redis")]
mod redis_broker {
    use std::collections::{HashMap, HashSet};
    use std::sync::{Arc, Weak};

    use futures_util::StreamExt;
    use redis::aio::MultiplexedConnection;
    use ws13::broadcast::TopicOptions;

    use super::{ALIVE_REFRESH, ALIVE_TTL, Broker, Rooms};

    const ROOM_CHANNELS: &str = "ws13chat:room:";
    const ROOMS: &str = "ws13chat:rooms";

    fn members_key(room: &str) -> String {
        format!("ws13chat:members:{room}")
    }

    fn alive_key(process: &str) -> String {
        format!("ws13chat:alive:{process}")
    }

    pub(super) struct RedisBroker {
        /// This process's id in member fields: unique per run.
        process: String,
        /// Commands (multiplexed: every task shares it).
        commands: MultiplexedConnection,
    }

    pub(super) async fn connect(url: &str, options: TopicOptions) -> Result<Arc<Rooms>, String> {
        let client = redis::Client::open(url).map_err(|e| format!("--redis {url}: {e}"))?;
        let commands = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| format!("cannot connect to Redis at {url}: {e}"))?;
        let mut pubsub = client
            .get_async_pubsub()
            .await
            .map_err(|e| format!("cannot open a Redis pub/sub connection to {url}: {e}"))?;
        pubsub
            .psubscribe(format!("{ROOM_CHANNELS}*"))
            .await
            .map_err(|e| format!("cannot subscribe to the room channels: {e}"))?;
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(|e| format!("no randomness for the process id: {e}"))?;
        let process = format!("{}-{:016x}", std::process::id(), u64::from_le_bytes(id));
        let broker = RedisBroker { process, commands };
        broker.renew_alive().await?;
        let rooms = Arc::new(Rooms {
            options,
            topics: std::sync::Mutex::new(HashMap::new()),
            broker: Broker::Redis(broker),
        });

        // Lines from every process, this one included.
        let weak = Arc::downgrade(&rooms);
        tokio::spawn(async move {
            let mut lines = pubsub.into_on_message();
            while let Some(message) = lines.next().await {
                let Some(rooms) = weak.upgrade() else { return };
                let Some(room) = message.get_channel_name().strip_prefix(ROOM_CHANNELS) else {
                    continue;
                };
                let line = String::from_utf8_lossy(message.get_payload_bytes()).into_owned();
                rooms.deliver(room, line);
            }
            // Without the pub/sub connection the rooms are deaf: let a
            // supervisor (or the clients' reconnects) move on to a process
            // that works.
            eprintln!("lost the Redis pub/sub connection; exiting");
            std::process::exit(1);
        });
        tokio::spawn(keep_alive_and_clean(Arc::downgrade(&rooms)));
        Ok(rooms)
    }

    /// Renews this process's liveness and removes (and announces) the
    /// members of processes that stopped renewing theirs.
    async fn keep_alive_and_clean(rooms: Weak<Rooms>) {
        let mut tick = tokio::time::interval(ALIVE_REFRESH);
        loop {
            tick.tick().await;
            let Some(rooms) = rooms.upgrade() else { return };
            let Broker::Redis(redis) = &rooms.broker else {
                return;
            };
            if let Err(e) = redis.renew_alive().await {
                eprintln!("{e}");
                continue;
            }
            if let Err(e) = redis.remove_the_departed(&rooms).await {
                eprintln!("redis: cleaning up presence failed: {e}");
            }
        }
    }

    impl RedisBroker {
        fn field(&self, member: u64) -> String {
            format!("{}/{member}", self.process)
        }

        async fn renew_alive(&self) -> Result<(), String> {
            let mut commands = self.commands.clone();
            redis::cmd("SET")
                .arg(alive_key(&self.process))
                .arg(1)
                .arg("EX")
                .arg(ALIVE_TTL.as_secs())
                .query_async::<()>(&mut commands)
                .await
                .map_err(|e| format!("redis: cannot renew this process's liveness: {e}"))
        }

        pub(super) async fn publish(&self, room: &str, line: &str) {
            let mut commands = self.commands.clone();
            let published = redis::cmd("PUBLISH")
                .arg(format!("{ROOM_CHANNELS}{room}"))
                .arg(line)
                .query_async::<i64>(&mut commands)
                .await;
            if let Err(e) = published {
                eprintln!("redis: publishing to {room} failed: {e}");
            }
        }

        pub(super) async fn join(&self, room: &str, member: u64, name: &str) -> usize {
            let mut commands = self.commands.clone();
            let joined = redis::pipe()
                .cmd("HSET")
                .arg(members_key(room))
                .arg(self.field(member))
                .arg(name)
                .ignore()
                .cmd("SADD")
                .arg(ROOMS)
                .arg(room)
                .ignore()
                .query_async::<()>(&mut commands)
                .await;
            if let Err(e) = joined {
                eprintln!("redis: recording {name} in {room} failed: {e}");
            }
            self.who(room).await.len()
        }

        pub(super) async fn leave(&self, room: &str, member: u64) -> usize {
            let mut commands = self.commands.clone();
            let left = redis::cmd("HDEL")
                .arg(members_key(room))
                .arg(self.field(member))
                .query_async::<i64>(&mut commands)
                .await;
            if let Err(e) = left {
                eprintln!("redis: removing a member of {room} failed: {e}");
            }
            self.who(room).await.len()
        }

        /// The names of the room's members in live processes.
        pub(super) async fn who(&self, room: &str) -> Vec<String> {
            match self.members(room).await {
                Ok(members) => {
                    let live = self.live_processes(&members).await;
                    members
                        .into_iter()
                        .filter(|(field, _)| live.contains(process_of(field)))
                        .map(|(_, name)| name)
                        .collect()
                }
                Err(e) => {
                    eprintln!("redis: reading the members of {room} failed: {e}");
                    Vec::new()
                }
            }
        }

        async fn members(&self, room: &str) -> redis::RedisResult<HashMap<String, String>> {
            let mut commands = self.commands.clone();
            redis::cmd("HGETALL")
                .arg(members_key(room))
                .query_async(&mut commands)
                .await
        }

        /// Which of the processes named in `members` are alive.
        async fn live_processes(&self, members: &HashMap<String, String>) -> HashSet<String> {
            let processes: HashSet<&str> = members.keys().map(|field| process_of(field)).collect();
            let mut live = HashSet::new();
            let mut commands = self.commands.clone();
            for process in processes {
                let alive = process == self.process
                    || redis::cmd("EXISTS")
                        .arg(alive_key(process))
                        .query_async::<bool>(&mut commands)
                        .await
                        // Unknown counts as alive: never announce a
                        // departure that did not happen.
                        .unwrap_or(true);
                if alive {
                    live.insert(process.to_owned());
                }
            }
            live
        }

        async fn remove_the_departed(&self, rooms: &Rooms) -> redis::RedisResult<()> {
            let mut commands = self.commands.clone();
            let names: Vec<String> = redis::cmd("SMEMBERS")
                .arg(ROOMS)
                .query_async(&mut commands)
                .await?;
            for room in names {
                let members = self.members(&room).await?;
                if members.is_empty() {
                    redis::cmd("SREM")
                        .arg(ROOMS)
                        .arg(&room)
                        .query_async::<i64>(&mut commands)
                        .await?;
                    continue;
                }
                let live = self.live_processes(&members).await;
                for (field, name) in &members {
                    if live.contains(process_of(field)) {
                        continue;
                    }
                    let removed: i64 = redis::cmd("HDEL")
                        .arg(members_key(&room))
                        .arg(field)
                        .query_async(&mut commands)
                        .await?;
                    // Only the process that removed it announces it.
                    if removed == 1 {
                        let online = self.who(&room).await.len();
                        let line = format!("* {name} left ({online} online)");
                        rooms.say(&room, line).await;
                    }
                }
            }
            Ok(())
        }
    }

    fn process_of(field: &str) -> &str {
        field.split_once('/').map_or(field, |(process, _)| process)
    }
}
