//! One registered family and everything needed to register it again after `reset()`.
//!
//! Metric objects (the Rust `Counter`, `Gauge`, `Histogram` and the JS layer's `RawMetric`)
//! hold an `Rc<Slot>`. The slot holds the core family behind a `RefCell`, so
//! [`Registry::reset`] can swap in a fresh one while handles that JS code keeps stay valid.
//! Children ([`Bound`]) remember the generation of the family their cached series came from and
//! look it up again after a reset.
//!
//! [`Registry::reset`]: crate::Registry::reset

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use metrics_core::{Desc, Error, Family};
use wasm_bindgen::JsError;

use crate::error::{js_error, metric_error};
use crate::series::{Config, Series};

/// A registered family and its one series when it has no labels.
type Registered = (Arc<Family<Series>>, Option<Arc<Series>>);

/// Registers a family under `desc`; with its one series when it has no labels (created now so
/// it is exposed at zero before first use, as Prometheus clients do).
fn register_family(
    registry: &mut metrics_core::Registry,
    desc: Desc<'_>,
    config: &Config,
    limit: Option<usize>,
) -> Result<Registered, Error> {
    let unlabelled = desc.label_names().is_empty();
    let family = registry.family::<Series>(desc, config.clone(), limit)?;
    let unlabelled = unlabelled.then(|| family.handle(&[]));
    Ok((family, unlabelled))
}

/// One registered family.
#[derive(Debug)]
pub(crate) struct Slot {
    name: Box<str>,
    config: Config,
    family: RefCell<Arc<Family<Series>>>,
    /// The one series of a family without labels, created at registration so it is exposed
    /// (at zero) before first use, as Prometheus clients do.
    unlabelled: RefCell<Option<Arc<Series>>>,
    generation: Cell<u32>,
}

impl Slot {
    /// Registers a new family.
    pub(crate) fn register(
        registry: &mut metrics_core::Registry,
        name: &str,
        help: &str,
        labels: &[&str],
        config: Config,
        limit: Option<usize>,
    ) -> Result<Self, Error> {
        let desc = Desc::try_new(name, help)?.try_labels(labels)?;
        let (family, unlabelled) = register_family(registry, desc, &config, limit)?;
        Ok(Slot {
            name: name.into(),
            config,
            family: RefCell::new(family),
            unlabelled: RefCell::new(unlabelled),
            generation: Cell::new(0),
        })
    }

    /// Registers a fresh, zeroed family under `desc` (the description the old registry holds
    /// for this slot's family) and points the slot at it.
    pub(crate) fn reregister(
        &self,
        registry: &mut metrics_core::Registry,
        desc: Desc<'_>,
        limit: Option<usize>,
    ) -> Result<(), Error> {
        debug_assert_eq!(desc.name(), &*self.name);
        let (family, unlabelled) = register_family(registry, desc, &self.config, limit)?;
        *self.unlabelled.borrow_mut() = unlabelled;
        *self.family.borrow_mut() = family;
        self.generation.set(self.generation.get().wrapping_add(1));
        Ok(())
    }

    /// The metric name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The method numbered `op` (`crate::series::op`) on the series for `values` (`[]`: the
    /// family has no labels). A wrong number of values, `[]` for a labelled family included,
    /// is the core's `LabelCount`.
    pub(crate) fn op(&self, op: u32, value: f64, values: &[&str]) -> Result<f64, JsError> {
        // Fast path: a family without labels, called without label values.
        if values.is_empty() {
            if let Some(m) = &*self.unlabelled.borrow() {
                return self.apply(m, op, value);
            }
        }
        let family = self.family.borrow();
        match family.try_labels(values) {
            Ok(m) => self.apply(m, op, value),
            Err(e) => Err(js_error(&self.name, &e)),
        }
    }

    /// `op` on `series`, a series of this family.
    #[inline]
    fn apply(&self, series: &Series, op: u32, value: f64) -> Result<f64, JsError> {
        series.op(op, value).map_err(|_| {
            metric_error(
                &self.name,
                "a counter only goes up: the increment must be a non-negative number, not \
                 negative or NaN (use a gauge for values that go down)",
            )
        })
    }

    /// A handle to the series for `values`, checked (label count, cardinality limit).
    fn resolve(&self, values: &[&str]) -> Result<Arc<Series>, JsError> {
        let family = self.family.borrow();
        family
            .try_labels(values)
            .map_err(|e| js_error(&self.name, &e))?;
        // The series exists now, so `handle` finds it (no overflow, no panic).
        Ok(family.handle(values))
    }
}

/// A series bound to label values: a child handle.
#[derive(Debug)]
pub(crate) struct Bound {
    slot: Rc<Slot>,
    values: Box<[Box<str>]>,
    /// The slot's generation `series` was looked up in.
    generation: Cell<u32>,
    series: RefCell<Arc<Series>>,
}

impl Bound {
    /// Binds `values` (checked now: label count, cardinality limit).
    pub(crate) fn new(slot: Rc<Slot>, values: &[&str]) -> Result<Self, JsError> {
        let series = slot.resolve(values)?;
        let generation = slot.generation.get();
        Ok(Bound {
            slot,
            values: values.iter().map(|v| Box::from(*v)).collect(),
            generation: Cell::new(generation),
            series: RefCell::new(series),
        })
    }

    /// The metric name.
    pub(crate) fn name(&self) -> &str {
        self.slot.name()
    }

    /// The family's slot.
    pub(crate) fn slot(&self) -> &Rc<Slot> {
        &self.slot
    }

    /// The method numbered `op` on the bound series (looked up again after a registry reset).
    pub(crate) fn op(&self, op: u32, value: f64) -> Result<f64, JsError> {
        let generation = self.slot.generation.get();
        if self.generation.get() != generation {
            let values: Vec<&str> = self.values.iter().map(|v| &**v).collect();
            *self.series.borrow_mut() = self.slot.resolve(&values)?;
            self.generation.set(generation);
        }
        self.slot.apply(&self.series.borrow(), op, value)
    }
}
