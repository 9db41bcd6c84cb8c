//! `metric_wrapper!`: the Rust type of one metric type and its bound child type.
//!
//! Every metric type has the same shape: it holds an `Rc<Slot>`, each method takes optional
//! label values last, `labels(values)` binds a child and `name` gives the name. The child holds
//! a `Bound` and has the same methods without label values. Every method is one metric method
//! number (`crate::series::op`) run by the slot on the series, so the types differ only in
//! their method lists.
//!
//! A method is `docs fn name(value?) -> T = OP; child: "doc";`, with `T` either `()` or `f64`
//! and at most one (`f64`) argument; `child:` is the child method's doc line.

use alloc::string::String;
use alloc::vec::Vec;

/// A method's result from the number `Series::op` returns.
pub(crate) trait FromNumber {
    /// The result; `()` drops the number.
    fn from_number(n: f64) -> Self;
}

impl FromNumber for () {
    fn from_number(_: f64) {}
}

impl FromNumber for f64 {
    fn from_number(n: f64) -> Self {
        n
    }
}

/// A method's argument, `0` for a method without one.
pub(crate) fn arg(value: Option<f64>) -> f64 {
    value.unwrap_or(0.0)
}

/// The label values as the slot takes them.
pub(crate) fn refs(values: &Option<Vec<String>>) -> Vec<&str> {
    values.iter().flatten().map(String::as_str).collect()
}

macro_rules! metric_wrapper {
    (
        $(#[doc = $doc:literal])*
        pub struct $Parent:ident;
        $(#[doc = $child_doc:literal])*
        pub struct $Child:ident;
        $(
            $(#[doc = $mdoc:literal])+
            fn $method:ident($($arg:ident)?) -> $ret:ty = $op:ident;
            child: $cdoc:literal;
        )*
    ) => {
        $(#[doc = $doc])*
        pub struct $Parent {
            slot: alloc::rc::Rc<crate::slot::Slot>,
        }

        impl core::fmt::Debug for $Parent {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_tuple(stringify!($Parent)).field(&self.slot.name()).finish()
            }
        }

        impl $Parent {
            pub(crate) fn from_slot(slot: alloc::rc::Rc<crate::slot::Slot>) -> Self {
                $Parent { slot }
            }

            $(
                $(#[doc = $mdoc])+
                pub fn $method(
                    &self,
                    $($arg: f64,)?
                    label_values: Option<alloc::vec::Vec<alloc::string::String>>,
                ) -> Result<$ret, wasm_bindgen::JsError> {
                    let value = crate::wrapper::arg(None $(.or(Some($arg)))?);
                    let values = crate::wrapper::refs(&label_values);
                    self.slot
                        .op(crate::series::op::$op, value, &values)
                        .map(crate::wrapper::FromNumber::from_number)
                }
            )*

            /// A child bound to `label_values`, for hot paths (checked now).
            pub fn labels(
                &self,
                label_values: alloc::vec::Vec<alloc::string::String>,
            ) -> Result<$Child, wasm_bindgen::JsError> {
                let label_values = Some(label_values);
                let values = crate::wrapper::refs(&label_values);
                Ok($Child {
                    bound: crate::slot::Bound::new(self.slot.clone(), &values)?,
                })
            }

            /// The metric name.
            pub fn name(&self) -> alloc::string::String {
                self.slot.name().into()
            }
        }

        $(#[doc = $child_doc])*
        pub struct $Child {
            bound: crate::slot::Bound,
        }

        impl core::fmt::Debug for $Child {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_tuple(stringify!($Child)).field(&self.bound.name()).finish()
            }
        }

        impl $Child {
            $(
                #[doc = $cdoc]
                pub fn $method(&self, $($arg: f64)?) -> Result<$ret, wasm_bindgen::JsError> {
                    let value = crate::wrapper::arg(None $(.or(Some($arg)))?);
                    self.bound
                        .op(crate::series::op::$op, value)
                        .map(crate::wrapper::FromNumber::from_number)
                }
            )*
        }
    };
}
