//! Small generated models with real random weights: the shapes that partitioning must handle
//! (chain, residual block, inception block, dense block, two inputs and two outputs), used by
//! tests and by the demo so that nothing has to be downloaded.

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::build::{int_attr, ints_attr, model, node, value_info};
use crate::consts::tensor_from_f32;
use crate::onnx::{
    AttributeProto, DataType, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto,
};
use std::path::{Path, PathBuf};

use crate::{GraphError, OnnxModel};

/// Names of the generated models, for the CLI.
pub const MODELS: &[&str] = &[
    "chain",
    "residual",
    "inception",
    "dense",
    "two-io",
    "mobilenet",
];

/// Builds a generated model by name (see [`MODELS`]).
pub fn generate(name: &str) -> Result<OnnxModel, GraphError> {
    let proto = match name {
        "chain" => chain(),
        "residual" => residual(),
        "inception" => inception(),
        "dense" => dense(),
        "two-io" => two_io(),
        "mobilenet" => mobilenet(),
        other => {
            return Err(GraphError::UnknownGenerated {
                name: other.to_string(),
                known: MODELS.to_vec(),
            });
        }
    };
    OnnxModel::from_proto(proto)
}

/// conv-relu, conv-relu, maxpool, conv-relu, global pool, flatten, gemm: 7 stages in a line.
pub fn chain() -> ModelProto {
    let mut b = Builder::new("chain", 1);
    let x = b.input("x", &[3, 32, 32]);
    let x = b.conv_relu(&x, 3, 8, 3, 1);
    let x = b.conv_relu(&x, 8, 16, 3, 2);
    let x = b.maxpool(&x, 2, 2, 0);
    let x = b.conv_relu(&x, 16, 16, 3, 1);
    let y = b.head(&x, 16, 10);
    b.finish(&[y])
}

/// A stem, one residual block (two convs on the main path, identity skip), then a classifier.
pub fn residual() -> ModelProto {
    let mut b = Builder::new("residual", 2);
    let x = b.input("x", &[3, 32, 32]);
    let s = b.conv_relu(&x, 3, 16, 3, 1);
    let m = b.conv_relu(&s, 16, 16, 3, 1);
    let m = b.conv(&m, 16, 16, 3, 1);
    let sum = b.op("Add", &[&m, &s], vec![]);
    let r = b.op("Relu", &[&sum], vec![]);
    let y = b.head(&r, 16, 10);
    b.finish(&[y])
}

/// A stem, one 4-branch inception block (1x1; 1x1->3x3; 1x1->5x5; maxpool->1x1), concat, classifier.
pub fn inception() -> ModelProto {
    let mut b = Builder::new("inception", 3);
    let x = b.input("x", &[3, 32, 32]);
    let s = b.conv_relu(&x, 3, 16, 3, 1);
    let b1 = b.conv_relu(&s, 16, 8, 1, 1);
    let b2 = b.conv_relu(&s, 16, 8, 1, 1);
    let b2 = b.conv_relu(&b2, 8, 8, 3, 1);
    let b3 = b.conv_relu(&s, 16, 4, 1, 1);
    let b3 = b.conv_relu(&b3, 4, 8, 5, 1);
    let b4 = b.maxpool(&s, 3, 1, 1);
    let b4 = b.conv_relu(&b4, 16, 8, 1, 1);
    let cat = b.op("Concat", &[&b1, &b2, &b3, &b4], vec![int_attr("axis", 1)]);
    let y = b.head(&cat, 32, 10);
    b.finish(&[y])
}

/// A stem and a 3-layer dense block: each layer (BN, relu, conv) reads the concatenation of the
/// stem and all earlier layers, as in DenseNet.
pub fn dense() -> ModelProto {
    let mut b = Builder::new("dense", 4);
    let x = b.input("x", &[3, 16, 16]);
    let s = b.conv_relu(&x, 3, 8, 3, 1);
    let mut feats = vec![s];
    let mut channels = 8;
    for _ in 0..3 {
        let cat = if feats.len() == 1 {
            feats[0].clone()
        } else {
            let refs: Vec<&str> = feats.iter().map(String::as_str).collect();
            b.op("Concat", &refs, vec![int_attr("axis", 1)])
        };
        let h = b.batchnorm(&cat, channels);
        let h = b.op("Relu", &[&h], vec![]);
        let y = b.conv(&h, channels, 4, 3, 1);
        feats.push(y);
        channels += 4;
    }
    let refs: Vec<&str> = feats.iter().map(String::as_str).collect();
    let cat = b.op("Concat", &refs, vec![int_attr("axis", 1)]);
    let y = b.head(&cat, channels, 10);
    b.finish(&[y])
}

/// Two inputs and two outputs: `a` and `b` go through their own conv, are summed, and the sum
/// feeds output `y1`; `b`'s branch also feeds output `y2` directly.
pub fn two_io() -> ModelProto {
    let mut b = Builder::new("two_io", 5);
    let a = b.input("a", &[3, 16, 16]);
    let c = b.input("b", &[3, 16, 16]);
    let ya = b.conv_relu(&a, 3, 8, 3, 1);
    let yb = b.conv_relu(&c, 3, 8, 3, 1);
    let s = b.op("Add", &[&ya, &yb], vec![]);
    let s = b.conv_relu(&s, 8, 8, 3, 1);
    let y1 = b.head(&s, 8, 10);
    let p = b.op("GlobalAveragePool", &[&yb], vec![]);
    let y2 = b.op("Flatten", &[&p], vec![int_attr("axis", 1)]);
    b.finish(&[y1, y2])
}

/// A MobileNetV2-style network at 224x224 (stem, 13 inverted-residual blocks with depthwise
/// convolutions and skip connections, a 1x1 expansion, a 1000-way classifier), ReLU for ReLU6 and
/// batch normalization folded into the convolutions. Realistic for partitioning: the early
/// activations are larger than the input, the late ones far smaller, and each block with a skip
/// has two-tensor cuts. About 0.3 GFLOP, so a run takes milliseconds, not seconds: the demo's
/// default model.
pub fn mobilenet() -> ModelProto {
    let mut b = Builder::new("mobilenet", 6);
    let x = b.input("image", &[3, 224, 224]);
    let mut x = b.conv_relu(&x, 3, 32, 3, 2);
    let mut cin = 32;
    // (expansion, output channels, repeats, first stride), MobileNetV2's table shortened.
    for (t, c, n, s) in [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 2, 2),
        (6, 96, 1, 1),
        (6, 160, 2, 2),
        (6, 320, 1, 1),
    ] {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            x = b.inverted_residual(&x, cin, c, t, stride);
            cin = c;
        }
    }
    let x = b.conv_relu(&x, cin, 640, 1, 1);
    let y = b.head(&x, 640, 1000);
    b.finish(&[y])
}

/// A tiny ONNX graph builder with seeded He-scaled weights.
struct Builder {
    name: String,
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    rng: StdRng,
    next: usize,
}

impl Builder {
    fn new(name: &str, seed: u64) -> Self {
        Self {
            name: name.into(),
            nodes: vec![],
            inits: vec![],
            inputs: vec![],
            rng: StdRng::seed_from_u64(seed),
            next: 0,
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_{}", self.next)
    }

    /// A float graph input of dims `dims` after the symbolic batch dimension.
    fn input(&mut self, name: &str, dims: &[usize]) -> String {
        let dims: Vec<Option<usize>> = std::iter::once(None)
            .chain(dims.iter().copied().map(Some))
            .collect();
        self.inputs.push(value_info(name, DataType::Float, &dims));
        name.into()
    }

    fn weight(&mut self, dims: &[usize], fan_in: usize) -> String {
        let name = self.fresh("w");
        let a = (6.0 / fan_in as f32).sqrt();
        let n = dims.iter().product();
        let data: Vec<f32> = (0..n).map(|_| self.rng.random_range(-a..a)).collect();
        self.inits.push(tensor_from_f32(&name, dims, &data));
        name
    }

    fn filled(&mut self, dims: &[usize], lo: f32, hi: f32) -> String {
        let name = self.fresh("p");
        let n = dims.iter().product();
        let data: Vec<f32> = (0..n).map(|_| self.rng.random_range(lo..hi)).collect();
        self.inits.push(tensor_from_f32(&name, dims, &data));
        name
    }

    fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_lowercase());
        let name = format!("{out}_node");
        self.nodes
            .push(node(op, Some(&name), inputs, &[&out], attrs));
        out
    }

    fn conv(&mut self, x: &str, cin: usize, cout: usize, k: usize, stride: usize) -> String {
        let w = self.weight(&[cout, cin, k, k], cin * k * k);
        let bias = self.filled(&[cout], -0.1, 0.1);
        let p = (k / 2) as i64;
        self.op(
            "Conv",
            &[x, &w, &bias],
            vec![
                ints_attr("kernel_shape", &[k as i64, k as i64]),
                ints_attr("strides", &[stride as i64; 2]),
                ints_attr("pads", &[p; 4]),
            ],
        )
    }

    fn conv_relu(&mut self, x: &str, cin: usize, cout: usize, k: usize, stride: usize) -> String {
        let c = self.conv(x, cin, cout, k, stride);
        self.op("Relu", &[&c], vec![])
    }

    /// A 3x3 depthwise convolution (one filter per channel: `group` = channels) and ReLU.
    fn depthwise_relu(&mut self, x: &str, c: usize, stride: usize) -> String {
        let w = self.weight(&[c, 1, 3, 3], 9);
        let bias = self.filled(&[c], -0.1, 0.1);
        let conv = self.op(
            "Conv",
            &[x, &w, &bias],
            vec![
                ints_attr("kernel_shape", &[3, 3]),
                ints_attr("strides", &[stride as i64; 2]),
                ints_attr("pads", &[1; 4]),
                int_attr("group", c as i64),
            ],
        );
        self.op("Relu", &[&conv], vec![])
    }

    /// MobileNetV2's block: 1x1 expansion by `t` (none when 1), depthwise 3x3, linear 1x1
    /// projection, and a skip connection when the shape is kept.
    fn inverted_residual(
        &mut self,
        x: &str,
        cin: usize,
        cout: usize,
        t: usize,
        stride: usize,
    ) -> String {
        let hidden = cin * t;
        let e = if t == 1 {
            x.to_string()
        } else {
            self.conv_relu(x, cin, hidden, 1, 1)
        };
        let d = self.depthwise_relu(&e, hidden, stride);
        let p = self.conv(&d, hidden, cout, 1, 1);
        if stride == 1 && cin == cout {
            self.op("Add", &[&p, x], vec![])
        } else {
            p
        }
    }

    fn batchnorm(&mut self, x: &str, c: usize) -> String {
        let scale = self.filled(&[c], 0.8, 1.2);
        let bias = self.filled(&[c], -0.1, 0.1);
        let mean = self.filled(&[c], -0.1, 0.1);
        let var = self.filled(&[c], 0.8, 1.2);
        self.op(
            "BatchNormalization",
            &[x, &scale, &bias, &mean, &var],
            vec![],
        )
    }

    fn maxpool(&mut self, x: &str, k: i64, stride: i64, pad: i64) -> String {
        self.op(
            "MaxPool",
            &[x],
            vec![
                ints_attr("kernel_shape", &[k, k]),
                ints_attr("strides", &[stride; 2]),
                ints_attr("pads", &[pad; 4]),
            ],
        )
    }

    /// Global average pool, flatten, fully connected layer to `classes` logits.
    fn head(&mut self, x: &str, channels: usize, classes: usize) -> String {
        let p = self.op("GlobalAveragePool", &[x], vec![]);
        let f = self.op("Flatten", &[&p], vec![int_attr("axis", 1)]);
        let w = self.weight(&[channels, classes], channels);
        let bias = self.filled(&[classes], -0.1, 0.1);
        self.op("Gemm", &[&f, &w, &bias], vec![])
    }

    /// The model, opset 13; the graph outputs carry names only, no types.
    fn finish(self, outputs: &[String]) -> ModelProto {
        let graph = GraphProto {
            name: Some(self.name),
            node: self.nodes,
            initializer: self.inits,
            input: self.inputs,
            output: outputs
                .iter()
                .map(|o| ValueInfoProto {
                    name: Some(o.clone()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        ModelProto {
            producer_name: Some("loadpart-zoo".into()),
            ..model(graph, 13)
        }
    }
}

/// `y = Relu(x)` on a `[N, 1]` input: the smallest model an engine can run, for measuring the
/// fixed cost of one run.
pub fn tiny_relu() -> ModelProto {
    let mut b = Builder::new("tiny_relu", 0);
    let x = b.input("x", &[1]);
    let y = b.op("Relu", &[&x], vec![]);
    b.finish(&[y])
}

/// The model-zoo "light" models `scripts/setup.sh` installs (file `light_NAME.onnx` and its
/// reference output `light_NAME_output_0.pb` in [`light_models_dir`]).
pub const LIGHT_MODELS: [&str; 9] = [
    "bvlc_alexnet",
    "densenet121",
    "inception_v1",
    "inception_v2",
    "resnet50",
    "shufflenet",
    "squeezenet",
    "vgg19",
    "zfnet512",
];

/// Where `scripts/setup.sh` installs the model-zoo light models, looked up at run time (nothing
/// about the build machine is compiled in): `$LOADPART_MODELS`, else
/// `$LOADPART_HOME/models/light`, else the first `.loadpart/models/light` found in the current
/// directory or one of its parents, else in the running executable's directory or one of its
/// parents. When none exists, the path where the current directory's setup would put them.
pub fn light_models_dir() -> PathBuf {
    let set = |v: &str| {
        std::env::var_os(v)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = set("LOADPART_MODELS") {
        return d;
    }
    if let Some(home) = set("LOADPART_HOME") {
        return home.join("models/light");
    }
    let local = Path::new(".loadpart").join("models").join("light");
    let cwd = std::env::current_dir().unwrap_or_default();
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf));
    for start in std::iter::once(cwd.clone()).chain(exe_dir) {
        if let Some(found) = start
            .ancestors()
            .map(|a| a.join(&local))
            .find(|d| d.is_dir())
        {
            return found;
        }
    }
    cwd.join(local)
}

/// The file of light model `name` (`resnet50`, `light_resnet50`, `alexnet` for
/// `light_bvlc_alexnet`, ...) in [`light_models_dir`]. The error says where it looked and that
/// `scripts/setup.sh` installs them.
pub fn light_model_path(name: &str) -> Result<PathBuf, GraphError> {
    let dir = light_models_dir();
    let stem = name.trim_end_matches(".onnx");
    let stem = stem.strip_prefix("light_").unwrap_or(stem);
    for candidate in [
        format!("light_{stem}.onnx"),
        format!("light_bvlc_{stem}.onnx"),
    ] {
        let path = dir.join(candidate);
        if path.is_file() {
            return Ok(path);
        }
    }
    let reason = if dir.is_dir() {
        format!(
            "not one of {} (names: {})",
            dir.display(),
            LIGHT_MODELS.join(", ")
        )
    } else {
        "the directory does not exist; run scripts/setup.sh to install the light models".into()
    };
    Err(GraphError::LightModel {
        name: name.to_string(),
        dir,
        reason,
    })
}

/// Loads light model `name` (see [`light_model_path`]).
pub fn load_light(name: &str) -> Result<OnnxModel, GraphError> {
    OnnxModel::load(light_model_path(name)?)
}

/// The reference output the model zoo ships for light model `name` (`light_NAME_output_0.pb`).
pub fn light_reference_path(name: &str) -> Result<PathBuf, GraphError> {
    let model = light_model_path(name)?;
    let stem = model
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    Ok(model.with_file_name(format!("{stem}_output_0.pb")))
}
