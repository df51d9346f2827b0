//! One prepared model on one engine, with its parts served from a shared cache.

use std::sync::Arc;

use loadpart_cuts::CutId;
use loadpart_engine::{Engine, LoadOptions};
use loadpart_graph::Prepared;

use crate::{PartCache, PartKey, PartRunner, PartSpec, RuntimeError};

/// Parts of one model on demand: extracted, loaded and cached on first use. Cheap to share
/// between threads; several models may share one [`PartCache`] (keys carry the identity).
pub struct ModelRuntime {
    engine: Arc<dyn Engine>,
    prepared: Arc<Prepared>,
    cache: Arc<PartCache>,
    load: LoadOptions,
}

impl std::fmt::Debug for ModelRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelRuntime")
            .field("engine", &self.engine.kind())
            .field("identity", &self.identity())
            .finish()
    }
}

impl ModelRuntime {
    pub fn new(
        engine: Arc<dyn Engine>,
        prepared: Arc<Prepared>,
        cache: Arc<PartCache>,
        load: LoadOptions,
    ) -> Self {
        Self {
            engine,
            prepared,
            cache,
            load,
        }
    }

    pub fn prepared(&self) -> &Arc<Prepared> {
        &self.prepared
    }

    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    pub fn cache(&self) -> &Arc<PartCache> {
        &self.cache
    }

    /// The model's identity (see `OnnxModel::hash`).
    pub fn identity(&self) -> &str {
        self.prepared.identity()
    }

    /// The part `spec`, from the cache or loaded now.
    pub fn part(&self, spec: PartSpec) -> Result<Arc<PartRunner>, RuntimeError> {
        let key = PartKey {
            model: self.identity().to_string(),
            spec,
        };
        self.cache.get_or_load(&key, || {
            PartRunner::load(&*self.engine, &self.prepared, key.spec.clone(), &self.load)
        })
    }

    /// The part `spec` if it is loaded already; never loads (see [`PartCache::get`]).
    pub fn cached(&self, spec: PartSpec) -> Option<Arc<PartRunner>> {
        self.cache.get(&PartKey {
            model: self.identity().to_string(),
            spec,
        })
    }

    pub fn head(&self, cut: &CutId) -> Result<Arc<PartRunner>, RuntimeError> {
        self.part(PartSpec::Head(cut.clone()))
    }

    pub fn tail(&self, cut: &CutId) -> Result<Arc<PartRunner>, RuntimeError> {
        self.part(PartSpec::Tail(cut.clone()))
    }

    pub fn segment(&self, from: &CutId, to: &CutId) -> Result<Arc<PartRunner>, RuntimeError> {
        self.part(PartSpec::Segment {
            from: from.clone(),
            to: to.clone(),
        })
    }

    pub fn full(&self) -> Result<Arc<PartRunner>, RuntimeError> {
        self.part(PartSpec::Full)
    }
}
