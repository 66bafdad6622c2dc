//! Docker: the Engine API of a manager, as `docker service ls` and `docker service scale` use
//! it, over its Unix socket or plain TCP. The calls, all of them (the README lists them for a
//! socket proxy):
//!
//! ```text
//! GET  /_ping                                 the daemon's API version
//! GET  /v{api}/services?filters=...           the services with the target-rps label
//! POST /v{api}/services/{id}/update?version=N one service's spec, with only Replicas changed
//! ```
//!
//! Only a 2xx answer to the update is a change; redirects are not followed (`fogdeft::http`).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use ureq::http::Uri;

use fogdeft::http::{self, Failure};

use crate::config::DockerHost;
use crate::error::{Error, Peer};
use crate::hpa::LABEL_TARGET;
use crate::prometheus::text_of;

/// Larger answers from Docker mean something is wrong; we stop reading.
const MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

pub struct Docker {
    agent: ureq::Agent,
    host: DockerHost,
    /// The URL prefix: the socket's requests need a host name too, which Docker ignores.
    base: String,
    timeout: Duration,
}

/// What we need of one service from `GET /services`.
#[derive(Debug)]
pub struct Service {
    pub id: String,
    pub name: String,
    /// The name in its stack (`producer` for `fogdeft_producer`): what `{service}` stands for.
    pub short_name: String,
    /// Swarm refuses an update made from a stale spec: it must name the version it changes.
    pub version: u64,
    /// The replica count, or why this service has none we may use.
    pub replicas: Result<u32, String>,
    pub labels: BTreeMap<String, String>,
    /// The whole spec, sent back with only the replica count changed.
    spec: Value,
}

/// The services that opted in, and a line for each entry of the list that is not a service.
pub struct Listing {
    pub services: Vec<Service>,
    pub malformed: Vec<String>,
}

impl Docker {
    pub fn new(host: &DockerHost, timeout: Duration) -> Docker {
        let config = http::agent("autoscaler", timeout).build();
        let (agent, base) = match host {
            DockerHost::Unix(path) => (
                ureq::Agent::with_parts(config, UnixConnector(path.clone()), NoLookup),
                "http://docker".to_string(),
            ),
            DockerHost::Tcp(url) => (config.into(), url.join("")),
        };
        Docker {
            agent,
            host: host.clone(),
            base,
            timeout,
        }
    }

    /// The services that opted in. Docker filters on the label, and we check it again: a
    /// service without it must never be touched.
    pub fn autoscaled_services(&self, max_replicas: u32) -> Result<Listing, Error> {
        let api = self.api_version()?;
        let filter = format!("{{\"label\":[\"{LABEL_TARGET}\"]}}");
        let request = self
            .agent
            .get(format!("{}/v{api}/services", self.base))
            .query("filters", filter);
        let body = self.success(request.call(), "list the services")?;
        let list = http::json(&body);
        let entries = list
            .as_ref()
            .and_then(Value::as_array)
            .ok_or_else(|| Error::BadAnswer {
                peer: Peer::Docker,
                why: "the service list is not a JSON array".into(),
            })?;
        let mut listing = Listing {
            services: Vec::new(),
            malformed: Vec::new(),
        };
        for entry in entries {
            match Service::from_json(entry, max_replicas) {
                Ok(service) if service.labels.contains_key(LABEL_TARGET) => {
                    listing.services.push(service)
                }
                Ok(_) => {}
                Err(why) => listing.malformed.push(why),
            }
        }
        Ok(listing)
    }

    /// `docker service scale`: the same spec with a new replica count, at the version we read.
    pub fn scale(&self, service: &Service, replicas: u32) -> Result<(), Error> {
        let api = self.api_version()?;
        let mut spec = service.spec.clone();
        spec["Mode"]["Replicated"]["Replicas"] = replicas.into();
        let url = format!("{}/v{api}/services/{}/update", self.base, service.id);
        let request = self
            .agent
            .post(url)
            .query("version", service.version.to_string())
            .header("Content-Type", "application/json");
        // A 2xx, and only a 2xx, says that Docker made the change; its body is only warnings.
        self.success(request.send(spec.to_string()), "update the service")?;
        Ok(())
    }

    /// Speaks the daemon's own API version, which `/_ping` names: it accepts that one whatever
    /// its age, and we send back only what it gave us. Asked before each call, since dockerd may
    /// have been upgraded in the meantime; it costs one tiny request.
    fn api_version(&self) -> Result<String, Error> {
        let mut response = self
            .agent
            .get(format!("{}/_ping", self.base))
            .call()
            .map_err(|e| self.unreachable(e.into()))?;
        let status = response.status().as_u16();
        let version = response
            .headers()
            .get("api-version")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .map(str::to_string);
        let _ = http::read_body(&mut response, MAX_BODY_BYTES);
        match version {
            Some(version) if status == 200 => Ok(version),
            _ => Err(Error::BadAnswer {
                peer: Peer::Docker,
                why: format!(
                    "/_ping answered HTTP {status} and named no API-Version; is this a Docker Engine?"
                ),
            }),
        }
    }

    /// The body of a 2xx answer, or an error that says which step failed and why.
    fn success(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        step: &str,
    ) -> Result<Vec<u8>, Error> {
        let mut response = result.map_err(|e| self.unreachable(e.into()))?;
        let status = response.status().as_u16();
        let body =
            http::read_body(&mut response, MAX_BODY_BYTES).map_err(|f| self.unreachable(f))?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        // Docker's errors are {"message": "..."}.
        let json = http::json(&body);
        let message = json.map(|j| text_of(&j["message"])).unwrap_or_default();
        Err(Error::Rejected {
            peer: Peer::Docker,
            status,
            message: format!("cannot {step}: {message}"),
        })
    }

    fn unreachable(&self, failure: Failure) -> Error {
        Error::Unreachable {
            peer: Peer::Docker,
            address: self.host.to_string(),
            timeout: self.timeout,
            failure,
        }
    }
}

impl Service {
    /// A service as Docker describes one, or why this entry is not one (naming it as far as it
    /// can be named).
    fn from_json(json: &Value, max_replicas: u32) -> Result<Service, String> {
        let spec = &json["Spec"];
        let id = json["ID"].as_str().unwrap_or_default();
        let name = spec["Name"].as_str().unwrap_or_default();
        let skipped = |why: &str| {
            format!("skipped an entry of Docker's service list (ID '{id}', name '{name}'): {why}")
        };
        // The ID goes into a request path: Docker's are 25 letters and digits.
        let id_chars = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if id.is_empty() || !id.bytes().all(id_chars) {
            return Err(skipped("it has no valid ID"));
        }
        if name.is_empty() {
            return Err(skipped("it has no name"));
        }
        let version = json["Version"]["Index"]
            .as_u64()
            .ok_or_else(|| skipped("it has no version index"))?;
        let mut labels = BTreeMap::new();
        if let Some(map) = spec["Labels"].as_object() {
            for (key, value) in map {
                let value = value
                    .as_str()
                    .ok_or_else(|| skipped(&format!("its label {key} is not text")))?;
                labels.insert(key.clone(), value.to_string());
            }
        }
        let short_name = labels
            .get("com.docker.stack.namespace")
            .and_then(|stack| name.strip_prefix(&format!("{stack}_")))
            .unwrap_or(name)
            .to_string();
        Ok(Service {
            id: id.to_string(),
            name: name.to_string(),
            short_name,
            version,
            replicas: replicas(&spec["Mode"], max_replicas),
            labels,
            spec: spec.clone(),
        })
    }
}

/// The replica count of a service's `Mode`, or why there is none to scale: each case is told
/// apart, so that the line says what Docker really reported.
fn replicas(mode: &Value, max_replicas: u32) -> Result<u32, String> {
    if let Some(replicated) = mode.get("Replicated") {
        return match &replicated["Replicas"] {
            Value::Number(n) => match n.as_u64() {
                Some(count) if count <= u64::from(max_replicas) => Ok(count as u32),
                Some(count) => Err(format!(
                    "Docker reports {count} replicas, more than --max-replicas ({max_replicas}): refused as a fault"
                )),
                None if n.is_i64() => Err(format!("Docker reports a negative replica count ({n})")),
                None => Err(format!(
                    "Docker reports a replica count that is not a whole number in range ({n})"
                )),
            },
            Value::Null => Err("Docker reports no replica count for a replicated service".into()),
            other => Err(format!(
                "Docker reports the replica count {other}, which is not a number"
            )),
        };
    }
    let kind = match mode.as_object() {
        Some(map) if map.contains_key("Global") => "a global service has no replica count",
        Some(map) if map.contains_key("ReplicatedJob") => {
            "a replicated job runs to completion: it has no replica count to scale"
        }
        Some(map) if map.contains_key("GlobalJob") => {
            "a global job runs to completion: it has no replica count to scale"
        }
        _ => {
            return Err(format!(
                "Docker reports a service mode we do not know: {mode}"
            ))
        }
    };
    Err(kind.into())
}

// ---------------------------------------------------------------------------------------------
// HTTP over Docker's Unix socket. ureq's transport is pluggable: a connector opens the socket
// instead of a TCP connection, and a resolver that looks nothing up stands in for DNS.

use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};

#[derive(Debug)]
struct UnixConnector(PathBuf);

impl<In: Transport> Connector<In> for UnixConnector {
    type Out = UnixTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _: Option<In>,
    ) -> Result<Option<UnixTransport>, ureq::Error> {
        let timeout = details.timeout;
        let stream = connect_unix(&self.0, timeout.not_zero().map(|t| *t))
            .map_err(|e| timed_out(e, timeout))?;
        let config = details.config;
        let buffers = LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
        Ok(Some(UnixTransport { stream, buffers }))
    }
}

/// `UnixStream::connect` within `timeout`. A daemon that stopped accepting lets its socket's
/// queue fill, and then Linux makes a connect wait until there is room: for ever, unless the
/// socket has a send timeout (SO_SNDTIMEO), which bounds that wait too. std connects as it makes
/// the socket, too early to set one, so here the socket is made, given the timeout, and then
/// connected. (A non-blocking connect would not do: Linux fails it at once with EAGAIN, with
/// nothing to wait for. macOS refuses a connect to a full queue at once.)
fn connect_unix(path: &Path, timeout: Option<Duration>) -> io::Result<UnixStream> {
    // SAFETY: an all-zero sockaddr_un is a valid (empty) address.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let path = path.as_os_str().as_bytes();
    // The path must fit with its terminating NUL, which the zeroed address provides.
    if path.len() >= address.sun_path.len() || path.contains(&0) {
        let why = "the socket path is too long for a Unix socket";
        return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
    }
    for (slot, &byte) in address.sun_path.iter_mut().zip(path) {
        *slot = byte as libc::c_char;
    }
    // SAFETY: socket(2) returns a new descriptor, which the stream then owns and closes.
    let stream = unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        UnixStream::from_raw_fd(fd)
    };
    stream.set_write_timeout(timeout)?;
    let length = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    loop {
        // SAFETY: connect(2) reads `length` bytes of our address.
        let done = unsafe {
            libc::connect(
                stream.as_raw_fd(),
                (&address as *const libc::sockaddr_un).cast(),
                length,
            )
        };
        match done {
            0 => return Ok(stream),
            _ => match io::Error::last_os_error() {
                error if error.kind() == io::ErrorKind::Interrupted => continue,
                error => return Err(error),
            },
        }
    }
}

#[derive(Debug)]
struct UnixTransport {
    stream: UnixStream,
    buffers: LazyBuffers,
}

impl Transport for UnixTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        self.stream
            .set_write_timeout(timeout.not_zero().map(|t| *t))?;
        let output = &self.buffers.output()[..amount];
        self.stream
            .write_all(output)
            .map_err(|e| timed_out(e, timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = timeout.for_read();
        self.stream
            .set_read_timeout(timeout.not_zero().map(|t| *t))?;
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input).map_err(|e| timed_out(e, timeout))?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    /// Whether the socket is still usable for another request: nothing to read, not closed.
    fn is_open(&mut self) -> bool {
        let mut byte = [0];
        let _ = self.stream.set_nonblocking(true);
        let idle =
            matches!(self.stream.read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        idle && self.stream.set_nonblocking(false).is_ok()
    }
}

/// A socket timeout is ureq's Timeout, so that it reads like any other.
fn timed_out(error: io::Error, timeout: NextTimeout) -> ureq::Error {
    match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ureq::Error::Timeout(timeout.reason),
        _ => ureq::Error::Io(error),
    }
}

/// The socket path is the address: there is no host name to resolve.
#[derive(Debug)]
struct NoLookup;

impl Resolver for NoLookup {
    fn resolve(
        &self,
        _: &Uri,
        _: &ureq::config::Config,
        _: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mut addresses = self.empty();
        addresses.push(SocketAddr::from(([127, 0, 0, 1], 0)));
        Ok(addresses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn service(mode: Value) -> Value {
        json!({"ID": "abc", "Version": {"Index": 42},
               "Spec": {"Name": "fogdeft_producer", "Mode": mode,
                        "Labels": {"com.docker.stack.namespace": "fogdeft", LABEL_TARGET: "50"}}})
    }

    #[test]
    fn services_are_read_from_docker_json() {
        let s = Service::from_json(&service(json!({"Replicated": {"Replicas": 2}})), 10).unwrap();
        assert_eq!(
            (s.id.as_str(), s.name.as_str(), s.short_name.as_str()),
            ("abc", "fogdeft_producer", "producer")
        );
        assert_eq!((s.version, s.replicas), (42, Ok(2)));
    }

    #[test]
    fn every_impossible_replica_count_is_told_apart() {
        let count = |mode: &str| {
            let json = service(serde_json::from_str(mode).unwrap());
            Service::from_json(&json, 1000).unwrap().replicas
        };
        assert_eq!(count(r#"{"Replicated": {"Replicas": 1000}}"#), Ok(1000));
        assert_eq!(count(r#"{"Replicated": {"Replicas": 0}}"#), Ok(0));
        for (mode, says) in [
            (
                r#"{"Replicated": {"Replicas": 1001}}"#,
                "Docker reports 1001 replicas, more than --max-replicas (1000)",
            ),
            (
                r#"{"Replicated": {"Replicas": 9223372036854775808}}"#,
                "Docker reports 9223372036854775808 replicas",
            ),
            (
                r#"{"Replicated": {"Replicas": 18446744073709551616}}"#,
                "not a whole number in range",
            ),
            (
                r#"{"Replicated": {"Replicas": -1}}"#,
                "a negative replica count (-1)",
            ),
            (
                r#"{"Replicated": {"Replicas": "3"}}"#,
                "the replica count \"3\", which is not a number",
            ),
            (
                r#"{"Replicated": {"Replicas": 2.5}}"#,
                "not a whole number in range (2.5)",
            ),
            (
                r#"{"Replicated": {}}"#,
                "no replica count for a replicated service",
            ),
            (r#"{"Global": {}}"#, "a global service has no replica count"),
            (
                r#"{"ReplicatedJob": {"MaxConcurrent": 1}}"#,
                "a replicated job runs to completion",
            ),
            (r#"{"GlobalJob": {}}"#, "a global job runs to completion"),
            (r#"{"Sharded": {}}"#, "a service mode we do not know"),
        ] {
            let error = count(mode).unwrap_err();
            assert!(error.contains(says), "{mode}: {error}");
        }
    }

    #[test]
    fn malformed_entries_say_why_and_which() {
        let mut no_name = service(json!({"Replicated": {"Replicas": 1}}));
        no_name["Spec"]["Name"] = Value::Null;
        let mut bad_id = service(json!({"Replicated": {"Replicas": 1}}));
        bad_id["ID"] = "../../containers/x/kill?".into();
        let mut no_version = service(json!({"Replicated": {"Replicas": 1}}));
        no_version["Version"] = json!({});
        let mut number_label = service(json!({"Replicated": {"Replicas": 1}}));
        number_label["Spec"]["Labels"][LABEL_TARGET] = 50.into();
        for (json, says) in [
            (
                json!("x"),
                "skipped an entry of Docker's service list (ID '', name ''): it has no valid ID",
            ),
            (no_name, "(ID 'abc', name ''): it has no name"),
            (bad_id, "it has no valid ID"),
            (no_version, "it has no version index"),
            (
                number_label,
                "its label fogdeft.autoscale.target-rps is not text",
            ),
        ] {
            let error = Service::from_json(&json, 10).unwrap_err();
            assert!(error.contains(says), "{error}");
        }
    }
}
