//! `metric_wrapper!`: the JS class of one metric type and its bound child class.
//!
//! Every metric class has the same shape: it holds an `Rc<Slot<M>>`, each method takes an
//! optional `labelValues` array last, `labels(values)` binds a child and `name` is a getter. The
//! child holds a `Bound<M>` and has the same methods without `labelValues`. The macro writes both
//! classes out as plain `#[wasm_bindgen]` methods, so the JS names, signatures and TypeScript
//! types are those of hand-written ones.
//!
//! A method is `docs [js_name] fn name(args) -> T = |series, name| body; child: "doc";` where
//! `body` yields `T`, or `Result<T, JsError>` when the method is marked `[?]` after its return
//! type; the metric name binding is optional. `child:` is the child method's doc line.
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
            $(#[js_name = $js:ident])?
            fn $method:ident($($arg:ident: $ty:ty),*) -> $ret:ty $([$try:tt])?
                = |$m:ident $(, $n:ident)?| $body:expr;
            child: $cdoc:literal;
        )*
    ) => {
        $(#[doc = $doc])*
        #[wasm_bindgen]
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

        #[wasm_bindgen]
        impl $Parent {
            $(
                $(#[doc = $mdoc])+
                $(#[wasm_bindgen(js_name = $js)])?
                pub fn $method(
                    &self,
                    $($arg: $ty,)*
                    #[wasm_bindgen(js_name = labelValues)] label_values: Option<Vec<String>>,
                ) -> Result<$ret, JsError> {
                    $(let $n = self.slot.name();)?
                    self.slot.with(label_values, |$m| $body)$($try)?
                }
            )*

            /// A child bound to `labelValues`, for hot paths (checked now).
            pub fn labels(
                &self,
                #[wasm_bindgen(js_name = labelValues)] label_values: Vec<String>,
            ) -> Result<$Child, JsError> {
                Ok($Child {
                    bound: Bound::new(self.slot.clone(), label_values)?,
                })
            }

            /// The metric name.
            #[wasm_bindgen(getter)]
            pub fn name(&self) -> String {
                self.slot.name().into()
            }
        }

        $(#[doc = $child_doc])*
        #[wasm_bindgen]
        pub struct $Child {
            bound: Bound<$M>,
        }

        impl core::fmt::Debug for $Child {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(stringify!($Child))
            }
        }

        #[wasm_bindgen]
        impl $Child {
            $(
                #[doc = $cdoc]
                $(#[wasm_bindgen(js_name = $js)])?
                pub fn $method(&self, $($arg: $ty),*) -> Result<$ret, JsError> {
                    $(let $n = self.bound.name();)?
                    self.bound.with(|$m| $body)$($try)?
                }
            )*
        }
    };
}
