//! `metric_wrapper!`: the Rust type of one metric type and its bound child type.
//!
//! Every metric type has the same shape: it holds an `Rc<Slot<M>>`, each method takes optional
//! label values last, `labels(values)` binds a child and `name` gives the name. The child holds
//! a `Bound<M>` and has the same methods without label values. Both also get `op`, which calls
//! a method by its number (`crate::abi::op`): the one entry point the JS layer (`js/api.js`)
//! calls through, so that the module exports a few functions instead of one per method.
//!
//! A method is `docs fn name(args) -> T = |series, name| body; op: NUMBER; child: "doc";` where
//! `body` yields `T`, or `Result<T, JsError>` when the method is marked `[?]` after its return
//! type; the metric name binding is optional; a method takes at most one (`f64`) argument.
//! `child:` is the child method's doc line.
//!
//! Docs in the invocation are written `#[doc = " text"]`, not `/// text`: a doc comment passed
//! through `macro_rules!` reaches wasm-bindgen as a raw string (`r" text"`), and wasm-bindgen
//! copies that token into the JS and TypeScript comments with its `r"` prefix.

macro_rules! metric_wrapper {
    (
        $(#[doc = $doc:literal])*
        pub struct $Parent:ident($M:ty);
        $(#[doc = $child_doc:literal])*
        pub struct $Child:ident;
        $(
            $(#[doc = $mdoc:literal])+
            fn $method:ident($($arg:ident: $ty:ty),*) -> $ret:ty $([$try:tt])?
                = |$m:ident $(, $n:ident)?| $body:expr;
            op: $op:path;
            child: $cdoc:literal;
        )*
    ) => {
        $(#[doc = $doc])*
        pub struct $Parent {
            slot: Rc<Slot<$M>>,
        }

        impl core::fmt::Debug for $Parent {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_tuple(stringify!($Parent)).field(&self.slot.name()).finish()
            }
        }

        impl $Parent {
            pub(crate) fn from_slot(slot: Rc<Slot<$M>>) -> Self {
                $Parent { slot }
            }
        }

        impl $Parent {
            $(
                $(#[doc = $mdoc])+
                pub fn $method(
                    &self,
                    $($arg: $ty,)*
                    label_values: Option<Vec<String>>,
                ) -> Result<$ret, JsError> {
                    $(let $n = self.slot.name();)?
                    self.slot.with(label_values, |$m| $body)$($try)?
                }
            )*

            /// A child bound to `label_values`, for hot paths (checked now).
            pub fn labels(&self, label_values: Vec<String>) -> Result<$Child, JsError> {
                Ok($Child {
                    bound: Bound::new(self.slot.clone(), label_values)?,
                })
            }

            /// The metric name.
            pub fn name(&self) -> String {
                self.slot.name().into()
            }

            /// The method numbered `op` (`crate::abi::op`), `value` its argument if it takes
            /// one, as a number (`0` for methods without a result).
            pub(crate) fn op(
                &self,
                op: u32,
                value: f64,
                label_values: Option<Vec<String>>,
            ) -> Result<f64, JsError> {
                let _ = value;
                $(
                    if op == $op {
                        $(let $arg: $ty = value;)*
                        return self.$method($($arg,)* label_values)
                            .map(crate::abi::Number::number);
                    }
                )*
                Ok(f64::NAN)
            }
        }

        $(#[doc = $child_doc])*
        pub struct $Child {
            bound: Bound<$M>,
        }

        impl core::fmt::Debug for $Child {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(stringify!($Child))
            }
        }

        impl $Child {
            $(
                #[doc = $cdoc]
                pub fn $method(&self, $($arg: $ty),*) -> Result<$ret, JsError> {
                    $(let $n = self.bound.name();)?
                    self.bound.with(|$m| $body)$($try)?
                }
            )*

            /// As the parent's `op`, for the bound series.
            pub(crate) fn op(&self, op: u32, value: f64) -> Result<f64, JsError> {
                let _ = value;
                $(
                    if op == $op {
                        $(let $arg: $ty = value;)*
                        return self.$method($($arg),*).map(crate::abi::Number::number);
                    }
                )*
                Ok(f64::NAN)
            }
        }
    };
}
