//! One registered family and everything needed to register it again after `reset()`.
//!
//! The JS classes (`Counter`, `Gauge`, `Histogram` and their children) hold an `Rc<Slot<M>>`.
//! The slot holds the core family behind a `RefCell`, so [`Registry::reset`] can swap in a fresh
//! one while handles that JS code keeps stay valid. Children remember the generation of the
//! family their cached series came from and look it up again after a reset.
//!
//! [`Registry::reset`]: crate::Registry::reset

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::{Cell, Ref, RefCell};

use metrics_core::{Desc, Error, Family, FamilyMember};
use wasm_bindgen::JsError;

use crate::error::{js_error, unreachable_error};

/// A family that can be registered (again) into a core registry.
pub(crate) trait Reregister {
    /// Registers a fresh, zeroed family under `desc` (the description the old registry holds
    /// for this slot's family) and points the slot at it.
    fn reregister(
        &self,
        registry: &mut metrics_core::Registry,
        desc: Desc<'_>,
        limit: Option<usize>,
    ) -> Result<(), Error>;
}

/// A registered family and its one series when it has no labels.
type Registered<M> = (Arc<Family<M>>, Option<Arc<M>>);

/// Registers a family under `desc`; with its one series when it has no labels (created now so
/// it is exposed at zero before first use, as Prometheus clients do).
fn register_family<M: FamilyMember>(
    registry: &mut metrics_core::Registry,
    desc: Desc<'_>,
    config: M::Config,
    limit: Option<usize>,
) -> Result<Registered<M>, Error> {
    let unlabelled = desc.label_names().is_empty();
    let family = registry.family::<M>(desc, config, limit)?;
    let unlabelled = unlabelled.then(|| family.handle(&[]));
    Ok((family, unlabelled))
}

/// One registered family.
pub(crate) struct Slot<M: FamilyMember> {
    name: Box<str>,
    config: M::Config,
    family: RefCell<Arc<Family<M>>>,
    /// The one series of a family without labels, created at registration so it is exposed
    /// (at zero) before first use, as Prometheus clients do.
    unlabelled: RefCell<Option<Arc<M>>>,
    generation: Cell<u32>,
}

impl<M: FamilyMember> Slot<M>
where
    M::Config: Clone,
{
    /// Registers a new family.
    pub(crate) fn register(
        registry: &mut metrics_core::Registry,
        name: &str,
        help: &str,
        labels: &[String],
        config: M::Config,
        limit: Option<usize>,
    ) -> Result<Self, Error> {
        let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let desc = Desc::try_new(name, help)?.try_labels(&label_refs)?;
        let (family, unlabelled) = register_family::<M>(registry, desc, config.clone(), limit)?;
        Ok(Slot {
            name: name.into(),
            config,
            family: RefCell::new(family),
            unlabelled: RefCell::new(unlabelled),
            generation: Cell::new(0),
        })
    }

    /// The metric name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Calls `f` with the series for `values` (`None` or `[]`: the family has no labels).
    #[inline]
    pub(crate) fn with<R>(
        &self,
        values: Option<Vec<String>>,
        f: impl FnOnce(&M) -> R,
    ) -> Result<R, JsError> {
        // Fast path: a family without labels, called without label values.
        if values.as_ref().is_none_or(Vec::is_empty) {
            if let Some(m) = &*self.unlabelled.borrow() {
                return Ok(f(m));
            }
        }
        Ok(f(&*self.series(values.unwrap_or_default())?))
    }

    /// The series for `values`: one lookup, no reference count touched (a wrong number of
    /// values, `[]` for a labelled family included, is the core's `LabelCount`). Not inlined:
    /// one copy per metric type, not one per method.
    #[inline(never)]
    fn series(&self, values: Vec<String>) -> Result<Ref<'_, M>, JsError> {
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        Ref::filter_map(self.family.borrow(), |f| f.try_labels(&refs).ok()).map_err(|family| {
            match family.try_labels(&refs) {
                Err(e) => js_error(&self.name, &e),
                Ok(_) => unreachable_error(&self.name),
            }
        })
    }

    /// A handle to the series for `values`, checked (label count, cardinality limit).
    #[inline(never)]
    pub(crate) fn resolve(&self, values: &[String]) -> Result<Arc<M>, Error> {
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let family = self.family.borrow();
        family.try_labels(&refs)?;
        // The series exists now, so `handle` finds it (no overflow, no panic).
        Ok(family.handle(&refs))
    }

    /// Bumped on every reset.
    pub(crate) fn generation(&self) -> u32 {
        self.generation.get()
    }
}

impl<M: FamilyMember> Reregister for Slot<M>
where
    M::Config: Clone,
{
    fn reregister(
        &self,
        registry: &mut metrics_core::Registry,
        desc: Desc<'_>,
        limit: Option<usize>,
    ) -> Result<(), Error> {
        debug_assert_eq!(desc.name(), &*self.name);
        let (family, unlabelled) =
            register_family::<M>(registry, desc, self.config.clone(), limit)?;
        *self.unlabelled.borrow_mut() = unlabelled;
        *self.family.borrow_mut() = family;
        self.generation.set(self.generation.get().wrapping_add(1));
        Ok(())
    }
}

/// A series bound to label values: the child handles' shared part.
pub(crate) struct Bound<M: FamilyMember> {
    slot: alloc::rc::Rc<Slot<M>>,
    values: Box<[String]>,
    cached: RefCell<(u32, Arc<M>)>,
}

impl<M: FamilyMember> Bound<M>
where
    M::Config: Clone,
{
    /// Binds `values` (checked now: label count, cardinality limit).
    pub(crate) fn new(slot: alloc::rc::Rc<Slot<M>>, values: Vec<String>) -> Result<Self, JsError> {
        let series = slot
            .resolve(&values)
            .map_err(|e| js_error(slot.name(), &e))?;
        let generation = slot.generation();
        Ok(Bound {
            slot,
            values: values.into_boxed_slice(),
            cached: RefCell::new((generation, series)),
        })
    }

    /// The metric name.
    pub(crate) fn name(&self) -> &str {
        self.slot.name()
    }

    /// Calls `f` with the bound series (looked up again after a registry reset).
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&M) -> R) -> Result<R, JsError> {
        let generation = self.slot.generation();
        if self.cached.borrow().0 != generation {
            let series = self
                .slot
                .resolve(&self.values)
                .map_err(|e| js_error(self.slot.name(), &e))?;
            *self.cached.borrow_mut() = (generation, series);
        }
        Ok(f(&self.cached.borrow().1))
    }
}
