//! Two registries encoded as one.

use metrics_core::{Families, FamilyRef};

/// The families of `first`, then those of `second`, as one registry: encoding a `Chain`
/// writes both with one OpenMetrics `# EOF` at the end, which encoding them one after the
/// other would not. Names must not clash between the two (the exporter's own metrics all
/// start with `http_exporter_`).
#[derive(Clone, Copy)]
pub(crate) struct Chain<'a> {
    pub(crate) first: &'a dyn Families,
    pub(crate) second: &'a dyn Families,
}

impl std::fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("first", &self.first.family_count())
            .field("second", &self.second.family_count())
            .finish()
    }
}

impl Families for Chain<'_> {
    fn family_count(&self) -> usize {
        self.first.family_count() + self.second.family_count()
    }

    fn family(&self, index: usize) -> Option<FamilyRef<'_>> {
        let n = self.first.family_count();
        if index < n {
            self.first.family(index)
        } else {
            self.second.family(index - n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_core::{Format, Registry};

    #[test]
    fn one_eof_and_both_registries_in_order() {
        let mut a = Registry::new();
        a.counter("a_jobs", "A.").unwrap().inc_by(3);
        a.gauge("a_temp", "A.").unwrap().set(1.5);
        let mut b = Registry::new();
        b.counter("b_jobs", "B.").unwrap().inc();
        let chain = Chain {
            first: &a,
            second: &b,
        };
        assert_eq!(chain.family_count(), 3);
        assert!(chain.family(3).is_none());

        let mut out = Vec::new();
        metrics_core::encode_to_vec(&chain, Format::OpenMetrics, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
        assert!(text.ends_with("b_jobs_total 1\n# EOF\n"), "{text}");
        let (ia, ib) = (text.find("a_temp").unwrap(), text.find("b_jobs").unwrap());
        assert!(ia < ib);

        let empty = Registry::new();
        let chain = Chain {
            first: &empty,
            second: &b,
        };
        let mut out = Vec::new();
        metrics_core::encode_to_vec(&chain, Format::Text, &mut out).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("b_jobs_total 1\n"));
    }
}
