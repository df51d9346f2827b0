use loadpart_graph::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    for path in &args[1..] {
        let m = if path.ends_with(".onnx") { OnnxModel::load(path).unwrap() } else { zoo::generate(path).unwrap() };
        let t = std::time::Instant::now();
        let sh = Shapes::infer(&m, 1).unwrap();
        let sg = StageGraph::build(&m).unwrap();
        let cs = sg.cut_space(100000);
        let n = cs.all_candidate_cuts().count();
        let blocks: Vec<String> = cs.blocks().iter().map(|b| format!("{:?}", b.cut_count())).collect();
        let dynm = make_batch_dynamic(&m).map(|_| "ok".to_string()).unwrap_or_else(|e| e.to_string());
        println!("{path}: nodes {} stages {} artic {} cuts {n} blocks {} dyn {dynm} out {:?} {:?}", m.nodes().len(), sg.stages().len(), cs.articulation_tensors().len(), blocks.len(), m.outputs(), sh.get(&m.outputs()[0]).map(|t| t.dims.clone()));
        println!("   {}", blocks.join(" "));
        println!("   {:?}", t.elapsed()); if std::env::var("DUMP").is_ok() { dump(&m); }
    }
}
#[allow(dead_code)]
fn dump(m: &OnnxModel) {
    let sg = StageGraph::build(m).unwrap();
    for s in sg.stages() { println!("  {} {:?}", s.name, s.ops); }
}
