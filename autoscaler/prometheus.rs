//! Prometheus: instant queries through its HTTP API (`GET /api/v1/query`). Only an HTTP 200
//! whose body is `"status": "success"` with exactly one well-formed sample is a measurement;
//! anything else is "no data", with the reason.

use std::time::Duration;

use serde_json::Value;

use fogdeft::http::{self, Failure, Url};
use fogdeft::number;

use crate::error::{Error, Peer};

/// A query's answer is a few hundred bytes; more means something is wrong, and we stop reading.
const MAX_BODY_BYTES: u64 = 1024 * 1024;

pub struct Prometheus {
    agent: ureq::Agent,
    endpoint: String,
    /// The URL as errors show it.
    address: String,
    timeout: Duration,
}

impl Prometheus {
    pub fn new(url: &Url, timeout: Duration) -> Prometheus {
        Prometheus {
            agent: http::agent("autoscaler", timeout).build().into(),
            endpoint: url.join("/api/v1/query"),
            address: url.to_string(),
            timeout,
        }
    }

    /// The query's value now: one number of 0 or more, or the reason there is none.
    pub fn value(&self, query: &str) -> Result<f64, Error> {
        let unreachable = |failure: Failure| Error::Unreachable {
            peer: Peer::Prometheus,
            address: self.address.clone(),
            timeout: self.timeout,
            failure,
        };
        let request = self.agent.get(&self.endpoint).query("query", query);
        let mut response = request.call().map_err(|e| unreachable(e.into()))?;
        let status = response.status().as_u16();
        let body = http::read_body(&mut response, MAX_BODY_BYTES).map_err(unreachable)?;
        let json = http::json(&body);
        let success = json.as_ref().is_some_and(|j| j["status"] == "success");
        match (status, json) {
            (200, Some(json)) if success => single_number(&json["data"], query),
            (_, Some(json)) => Err(Error::Rejected {
                peer: Peer::Prometheus,
                status,
                message: if success {
                    "a success body with an error status is not a measurement".into()
                } else {
                    format!("{} (query: {query})", text_of(&json["error"]))
                },
            }),
            (_, None) => Err(Error::BadAnswer {
                peer: Peer::Prometheus,
                why: format!("HTTP {status}, and the answer is not JSON"),
            }),
        }
    }

    /// How many of `job`'s targets are up now and were up at every scrape of the whole `window`
    /// back (`up ... offset` finds a series that existed at the window's start: after a
    /// Prometheus restart or for a new replica, it does not). None covered is 0, not no data.
    pub fn covered_replicas(&self, job: &str, window: &str) -> Result<u32, Error> {
        let up = format!("up{{job=\"{job}\"}}");
        let query = format!(
            "count({up} == 1 and min_over_time({up}[{window}]) == 1 and {up} offset {window})"
        );
        match self.value(&query) {
            // A count is a whole number; `as` saturates an absurd one.
            Ok(count) => Ok(count as u32),
            Err(Error::NoSamples { .. }) => Ok(0),
            Err(error) => Err(error),
        }
    }
}

/// Takes the one number out of a `vector` (one series) or `scalar` result: a finite number of
/// 0 or more, sent as text in `[timestamp, "value"]`.
pub fn single_number(data: &Value, query: &str) -> Result<f64, Error> {
    let not_one = |got: String| Error::NotOneNumber {
        query: query.into(),
        got,
    };
    let sample = match (data["resultType"].as_str(), &data["result"]) {
        (Some("vector"), Value::Array(series)) => match series.as_slice() {
            [] => {
                return Err(Error::NoSamples {
                    query: query.into(),
                })
            }
            [one] => &one["value"],
            many => {
                let got = format!("{} series (wrap the query in sum(...))", many.len());
                return Err(not_one(got));
            }
        },
        (Some("scalar"), sample) => sample,
        (kind, _) => return Err(not_one(format!("a {} result", kind.unwrap_or("malformed")))),
    };
    let (time, text) = match sample.as_array().map(Vec::as_slice) {
        Some([time, Value::String(text)]) => (time, text.as_str()),
        _ => return Err(not_one(format!("the sample {sample}"))),
    };
    match number(text) {
        Some(value) if time.is_number() && value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err(not_one(format!("the value '{text}'"))),
    }
}

/// A JSON string's text, or the JSON itself.
pub fn text_of(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(values: &[&str]) -> Value {
        let result: Vec<Value> = values
            .iter()
            .map(|v| serde_json::json!({"metric": {}, "value": [1700000000.5, v]}))
            .collect();
        serde_json::json!({"resultType": "vector", "result": result})
    }

    #[test]
    fn one_number_is_taken_from_a_query_result() {
        assert_eq!(single_number(&vector(&["152.25"]), "q"), Ok(152.25));
        assert_eq!(single_number(&vector(&["0"]), "q"), Ok(0.0));
        let scalar = serde_json::json!({"resultType": "scalar", "result": [1.0, "3"]});
        assert_eq!(single_number(&scalar, "q"), Ok(3.0));
        assert_eq!(
            single_number(&vector(&[]), "q"),
            Err(Error::NoSamples { query: "q".into() })
        );
        let series = |value: Value| serde_json::json!({"resultType": "vector", "result": [{"metric": {}, "value": value}]});
        for (data, needle) in [
            (vector(&["1", "2"]), "2 series (wrap the query in sum(...))"),
            (vector(&["NaN"]), "the value 'NaN'"),
            (vector(&["+Inf"]), "the value '+Inf'"),
            (vector(&["-1"]), "the value '-1'"),
            (vector(&[""]), "the value ''"),
            (series(serde_json::json!([1.0, 5])), "the sample [1.0,5]"),
            (series(serde_json::json!(["now", "5"])), "the value '5'"),
            (series(serde_json::json!([1.0, "5", "6"])), "the sample"),
            (series(Value::Null), "the sample null"),
            (
                serde_json::json!({"resultType": "matrix", "result": []}),
                "a matrix result",
            ),
            (serde_json::json!({}), "a malformed result"),
        ] {
            let error = single_number(&data, "q").unwrap_err().to_string();
            assert!(
                error.contains(needle),
                "{error:?} should mention {needle:?}"
            );
        }
    }
}
