//! Our `inference` messages and RPCs against the descriptors `tritonclient` ships: every message
//! we define must exist there with exactly the same fields (name, number, type, label, type name,
//! oneof), and every RPC we declare must exist there with the same request, response and
//! streaming. All mismatches are reported at once.

use std::collections::BTreeMap;
use std::process::Command;

use loadpart_proto::FILE_DESCRIPTOR_SET;
use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};
use serde::Deserialize;

use crate::python::python_or_skip;

const PACKAGE: &str = "inference";

/// One field, in the form the Python script prints (numeric FieldDescriptorProto enums).
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Field {
    name: String,
    number: i32,
    r#type: i32,
    label: i32,
    type_name: String,
    oneof_index: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Msg {
    fields: Vec<Field>,
    oneofs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Method {
    name: String,
    input_type: String,
    output_type: String,
    client_streaming: bool,
    server_streaming: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct Service {
    methods: Vec<Method>,
}

#[derive(Debug, Deserialize)]
struct Dump {
    tritonclient_version: String,
    protobuf_version: String,
    messages: BTreeMap<String, Msg>,
    services: BTreeMap<String, Service>,
}

/// Triton's descriptors, from tests/dump_triton_descriptors.py.
fn triton() -> Option<Dump> {
    let py = python_or_skip("inference_messages_match_tritonclient_field_by_field")?;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/dump_triton_descriptors.py"
    );
    let out = Command::new(&py)
        .arg(script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", py.display()));
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("the script prints JSON"))
}

/// Our messages and services of package `inference`, in the same form.
fn ours() -> (BTreeMap<String, Msg>, BTreeMap<String, Service>) {
    let set = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set decodes");
    let mut messages = BTreeMap::new();
    let mut services = BTreeMap::new();
    for file in set.file.iter().filter(|f| f.package() == PACKAGE) {
        walk(PACKAGE, &file.message_type, &mut messages);
        for s in &file.service {
            let methods = s
                .method
                .iter()
                .map(|m| Method {
                    name: m.name().into(),
                    input_type: m.input_type().into(),
                    output_type: m.output_type().into(),
                    client_streaming: m.client_streaming(),
                    server_streaming: m.server_streaming(),
                })
                .collect();
            services.insert(format!("{PACKAGE}.{}", s.name()), Service { methods });
        }
    }
    (messages, services)
}

fn walk(prefix: &str, msgs: &[DescriptorProto], out: &mut BTreeMap<String, Msg>) {
    for m in msgs {
        let name = format!("{prefix}.{}", m.name());
        let fields = m
            .field
            .iter()
            .map(|f| Field {
                name: f.name().into(),
                number: f.number(),
                // protoc always sets both; 0 (not a valid value) stands for absent.
                r#type: f.r#type.unwrap_or(0),
                label: f.label.unwrap_or(0),
                type_name: f.type_name().into(),
                oneof_index: f.oneof_index,
            })
            .collect();
        out.insert(
            name.clone(),
            Msg {
                fields,
                oneofs: m.oneof_decl.iter().map(|o| o.name().into()).collect(),
            },
        );
        walk(&name, &m.nested_type, out);
    }
}

fn type_str(t: i32) -> String {
    Type::try_from(t).map_or_else(|_| format!("type {t}"), |t| t.as_str_name().into())
}

fn label_str(l: i32) -> String {
    Label::try_from(l).map_or_else(|_| format!("label {l}"), |l| l.as_str_name().into())
}

fn oneof_name(m: &Msg, f: &Field) -> Option<String> {
    f.oneof_index.map(|i| {
        m.oneofs
            .get(i as usize)
            .cloned()
            .unwrap_or_else(|| format!("#{i}"))
    })
}

/// Every difference between our messages and Triton's, for the messages we define.
fn message_mismatches(ours: &BTreeMap<String, Msg>, theirs: &BTreeMap<String, Msg>) -> Vec<String> {
    let mut bad = Vec::new();
    for (name, m) in ours {
        let Some(t) = theirs.get(name) else {
            bad.push(format!("{name}: no such message in tritonclient"));
            continue;
        };
        for f in &m.fields {
            let Some(tf) = t.fields.iter().find(|x| x.name == f.name) else {
                bad.push(format!("{name}.{}: no such field in tritonclient", f.name));
                continue;
            };
            let mut diff = |what: &str, a: String, b: String| {
                if a != b {
                    bad.push(format!(
                        "{name}.{}: {what} is {a}, tritonclient has {b}",
                        f.name
                    ));
                }
            };
            diff("number", f.number.to_string(), tf.number.to_string());
            diff("type", type_str(f.r#type), type_str(tf.r#type));
            diff("label", label_str(f.label), label_str(tf.label));
            diff("type name", f.type_name.clone(), tf.type_name.clone());
            diff(
                "oneof",
                format!("{:?}", oneof_name(m, f)),
                format!("{:?}", oneof_name(t, tf)),
            );
        }
        // Exactly the same fields: a field we lack would be dropped silently on decoding.
        for tf in &t.fields {
            if !m.fields.iter().any(|f| f.name == tf.name) {
                bad.push(format!(
                    "{name}.{}: field {} of tritonclient is missing here",
                    tf.name, tf.number
                ));
            }
        }
    }
    bad
}

fn service_mismatches(
    ours: &BTreeMap<String, Service>,
    theirs: &BTreeMap<String, Service>,
) -> Vec<String> {
    let mut bad = Vec::new();
    for (name, s) in ours {
        let Some(t) = theirs.get(name) else {
            bad.push(format!("service {name}: not in tritonclient"));
            continue;
        };
        for m in &s.methods {
            match t.methods.iter().find(|x| x.name == m.name) {
                None => bad.push(format!("{name}/{}: not in tritonclient", m.name)),
                Some(tm) if tm != m => bad.push(format!(
                    "{name}/{}: ours {m:?}, tritonclient {tm:?}",
                    m.name
                )),
                Some(_) => {}
            }
        }
    }
    bad
}

#[test]
fn inference_messages_match_tritonclient_field_by_field() {
    let Some(triton) = triton() else { return };
    let (messages, services) = ours();
    // Guard against a vacuous pass: the messages and RPCs the server needs are all there.
    for must in [
        "inference.ServerLiveResponse",
        "inference.ModelMetadataResponse.TensorMetadata",
        "inference.InferParameter",
        "inference.ModelInferRequest.InferInputTensor",
        "inference.ModelInferRequest.ParametersEntry",
        "inference.ModelInferResponse",
        "inference.ModelStatistics",
        "inference.ModelStatistics.ResponseStatsEntry",
        "inference.InferResponseStatistics",
        "inference.MemoryUsage",
    ] {
        assert!(messages.contains_key(must), "{must} not defined");
    }
    let rpcs: Vec<&str> = services["inference.GRPCInferenceService"]
        .methods
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(
        rpcs,
        [
            "ServerLive",
            "ServerReady",
            "ModelReady",
            "ServerMetadata",
            "ModelMetadata",
            "ModelInfer",
            "ModelStatistics"
        ]
    );

    let mut bad = message_mismatches(&messages, &triton.messages);
    bad.extend(service_mismatches(&services, &triton.services));
    let fields: usize = messages.values().map(|m| m.fields.len()).sum();
    assert!(
        bad.is_empty(),
        "{} mismatches against tritonclient {} (protobuf {}):\n  {}",
        bad.len(),
        triton.tritonclient_version,
        triton.protobuf_version,
        bad.join("\n  ")
    );
    println!(
        "{} messages ({fields} fields) and {} RPCs match tritonclient {} (protobuf {})",
        messages.len(),
        rpcs.len(),
        triton.tritonclient_version,
        triton.protobuf_version
    );
}

/// The comparison itself finds differences (so a pass means something).
#[test]
fn comparison_reports_every_kind_of_difference() {
    let (messages, _) = ours();
    let reference = messages.clone();
    let mut changed = messages;
    let p = changed.get_mut("inference.InferParameter").unwrap();
    let f = p
        .fields
        .iter_mut()
        .find(|f| f.name == "uint64_param")
        .unwrap();
    f.number = 6; // number
    f.r#type = 3; // type: int64 instead of uint64
    let m = changed.get_mut("inference.ModelInferRequest").unwrap();
    let f = m.fields.iter_mut().find(|f| f.name == "inputs").unwrap();
    f.label = 1; // label: singular instead of repeated
    f.type_name = ".inference.ModelInferResponse.InferOutputTensor".into(); // type name
    let f = m.fields.iter_mut().find(|f| f.name == "id").unwrap();
    f.name = "request_id".into(); // unknown field, and Triton's `id` missing
    changed.insert("inference.Extra".into(), Msg::default()); // unknown message
    let s = changed.get_mut("inference.ServerLiveResponse").unwrap();
    s.fields[0].oneof_index = Some(0);
    s.oneofs.push("x".into()); // oneof
    let bad = message_mismatches(&changed, &reference);
    for needle in [
        "InferParameter.uint64_param: number",
        "InferParameter.uint64_param: type",
        "ModelInferRequest.inputs: label",
        "ModelInferRequest.inputs: type name",
        "ModelInferRequest.request_id: no such field",
        "ModelInferRequest.id: field 3 of tritonclient is missing",
        "inference.Extra: no such message",
        "ServerLiveResponse.live: oneof",
    ] {
        assert!(
            bad.iter().any(|b| b.contains(needle)),
            "{needle:?} not reported in {bad:#?}"
        );
    }
    assert_eq!(bad.len(), 8, "{bad:#?}");
    assert!(message_mismatches(&reference, &reference).is_empty());
}
