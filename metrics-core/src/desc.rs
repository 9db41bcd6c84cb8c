//! A family's description: name, help, unit and label names.

use crate::name::{label_name_problem, metric_name_problem, str_eq, unit_problem};
use crate::{Error, StrList};

/// Name, help text, optional unit and label names of a metric family.
///
/// The `const fn` constructors check every name and **fail the build** when used in a `static`
/// or `const` with a bad name; [`Desc::try_new`] and friends check the same rules at run time
/// and return an [`Error`].
///
/// A counter's name may be given with or without `_total`: the encoders write `name_total`
/// samples either way, and OpenMetrics' `# TYPE` line names the family without `_total`.
#[derive(Clone, Copy, Debug)]
pub struct Desc<'a> {
    name: &'a str,
    help: &'a str,
    unit: Option<&'a str>,
    labels: StrList<'a>,
}

impl<'a> Desc<'a> {
    /// A description; panics (a compile error in a `const`/`static`) on an invalid name.
    pub const fn new(name: &'a str, help: &'a str) -> Self {
        if let Some(problem) = metric_name_problem(name) {
            panic!("{}", problem);
        }
        Desc {
            name,
            help,
            unit: None,
            labels: StrList::Borrowed(&[]),
        }
    }

    /// Adds label names; panics (a compile error in a `const`/`static`) on an invalid or
    /// repeated name, or on `le`/`quantile`.
    pub const fn labels(mut self, names: &'a [&'a str]) -> Self {
        let mut i = 0;
        while i < names.len() {
            if let Some(problem) = label_name_problem(names[i]) {
                panic!("{}", problem);
            }
            let mut j = 0;
            while j < i {
                if str_eq(names[i], names[j]) {
                    panic!("a label name is declared twice");
                }
                j += 1;
            }
            i += 1;
        }
        self.labels = StrList::Borrowed(names);
        self
    }

    /// Adds a unit (OpenMetrics `# UNIT`); the name must end with `_<unit>`. Panics (a compile
    /// error in a `const`/`static`) otherwise.
    pub const fn unit(mut self, unit: &'a str) -> Self {
        if let Some(problem) = unit_problem(self.name, unit) {
            panic!("{}", problem);
        }
        self.unit = Some(unit);
        self
    }

    /// The run-time checked [`Desc::new`].
    pub fn try_new(name: &'a str, help: &'a str) -> Result<Self, Error> {
        crate::name::validate_metric_name(name)?;
        Ok(Desc {
            name,
            help,
            unit: None,
            labels: StrList::Borrowed(&[]),
        })
    }

    /// Like [`try_new`](Self::try_new), accepting any UTF-8 name (e.g. OpenTelemetry's
    /// `cicd.pipeline.run.duration`) except an empty one or one starting with `__`. Only a
    /// registry built with [`Registry::utf8`](crate::Registry::utf8) takes it; the encoders
    /// escape it, or quote it, as the scrape negotiated (see [`Escaping`](crate::Escaping)).
    /// With the `alloc` feature, as that registry: without it every name is legacy, and the
    /// encoders carry no escaping code (see [`Escaping`](crate::Escaping)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidMetricName`] for an empty or `__` name.
    #[cfg(feature = "alloc")]
    pub fn try_new_utf8(name: &'a str, help: &'a str) -> Result<Self, Error> {
        crate::name::check_metric_name(name, crate::name::Validation::Utf8)?;
        Ok(Desc {
            name,
            help,
            unit: None,
            labels: StrList::Borrowed(&[]),
        })
    }

    /// Like [`try_labels`](Self::try_labels), accepting any UTF-8 label names (not empty, not
    /// `__*`, not `le` or `quantile`, none twice).
    ///
    /// # Errors
    ///
    /// As [`try_labels`](Self::try_labels).
    #[cfg(feature = "alloc")]
    pub fn try_labels_utf8(mut self, names: &'a [&'a str]) -> Result<Self, Error> {
        crate::name::check_label_names(names, crate::name::Validation::Utf8)?;
        self.labels = StrList::Borrowed(names);
        Ok(self)
    }

    /// The run-time checked [`Desc::labels`].
    pub fn try_labels(mut self, names: &'a [&'a str]) -> Result<Self, Error> {
        crate::name::validate_label_names(names)?;
        self.labels = StrList::Borrowed(names);
        Ok(self)
    }

    /// The run-time checked [`Desc::unit`].
    pub fn try_unit(mut self, unit: &'a str) -> Result<Self, Error> {
        if unit_problem(self.name, unit).is_some() {
            return Err(Error::InvalidUnit {
                unit: crate::error::Truncated::new(unit),
            });
        }
        self.unit = Some(unit);
        Ok(self)
    }

    /// Builds a description from parts that are already valid (the run-time registry's stored
    /// copies).
    #[cfg(feature = "alloc")]
    pub(crate) const fn from_parts(
        name: &'a str,
        help: &'a str,
        unit: Option<&'a str>,
        labels: StrList<'a>,
    ) -> Self {
        Desc {
            name,
            help,
            unit,
            labels,
        }
    }

    /// The name as given.
    pub const fn name(&self) -> &'a str {
        self.name
    }

    /// The help text.
    pub const fn help(&self) -> &'a str {
        self.help
    }

    /// The unit, if any.
    pub const fn unit_str(&self) -> Option<&'a str> {
        self.unit
    }

    /// The label names.
    pub const fn label_names(&self) -> StrList<'a> {
        self.labels
    }
}
