//! The module graph of Clambake's two crates, read from their source with `syn`: the module
//! tree from `mod` declarations and the file layout, and an edge from each module to every
//! crate-local module whose items it names.
//!
//! A path is resolved as rustc resolves it, as far as this needs: `crate::`, `self::`,
//! `super::`, `clambake_core::` (and `crate::core::`, the main crate's alias for it), a child
//! module's name, and every `use` (groups, renames, re-exports followed to where the item is
//! defined). A path ends at its first segment that is not a module: the item is defined in
//! the module reached so far. Items under `#[cfg(test)]` are left out: the rules are about the
//! code that ships. Paths inside macro calls are read where the macro's body parses as
//! comma-separated expressions (`format!`, `assert!`, `vec!`, ...).

use std::collections::{BTreeMap, BTreeSet};

use syn::punctuated::Punctuated;
use syn::visit::Visit;

/// A module, by its path from the crate's name: `["clambake", "app", "error"]`.
pub type ModPath = Vec<String>;

/// Where a path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An item of this crate-local module (or the module itself).
    Local(ModPath),
    /// Something outside both crates (std, a dependency), spelled out in full, or a name
    /// this reader does not know (a local variable, a generic, a prelude type).
    External(Vec<String>),
}

#[derive(Debug, Default)]
struct Module {
    /// The file that holds it, relative to the tree's root.
    file: String,
    children: BTreeSet<String>,
    /// Names a `use` brings in, with the path they stand for and whether it is re-exported.
    aliases: BTreeMap<String, Alias>,
    /// What the module's own code names (not its children's), outside `use` items.
    paths: Vec<Vec<String>>,
    /// Whether any of its own functions is `async`.
    has_async: bool,
}

#[derive(Debug, Clone)]
struct Alias {
    path: Vec<String>,
    exported: bool,
}

/// One dependency: `from` names an item of `to`, as `via` spells it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub from: ModPath,
    pub to: ModPath,
    pub via: String,
}

/// Every module of the crates and the files they are read from.
#[derive(Debug, Default)]
pub struct Graph {
    modules: BTreeMap<ModPath, Module>,
}

impl Graph {
    /// Reads `crates` (each a crate name and its root file, such as `("clambake_core",
    /// "crates/clambake-core/src/lib.rs")`) from `files`, which maps paths to their text.
    pub fn read(crates: &[(&str, &str)], files: &BTreeMap<String, String>) -> Self {
        let mut graph = Self::default();
        for (name, root) in crates {
            let text = files
                .get(*root)
                .unwrap_or_else(|| panic!("no crate root {root}"));
            let file = syn::parse_file(text).unwrap_or_else(|e| panic!("{root}: {e}"));
            let dir = parent_dir(root);
            graph.read_module(vec![(*name).to_owned()], root, &dir, &file.items, files);
        }
        graph
    }

    fn read_module(
        &mut self,
        path: ModPath,
        file: &str,
        dir: &str,
        items: &[syn::Item],
        files: &BTreeMap<String, String>,
    ) {
        let mut module = Module {
            file: file.to_owned(),
            ..Module::default()
        };
        let mut collector = PathCollector::default();
        for item in items.iter().filter(|item| !is_test_only(item)) {
            match item {
                syn::Item::Mod(child) => {
                    let name = child.ident.to_string();
                    module.children.insert(name.clone());
                    let mut child_path = path.clone();
                    child_path.push(name.clone());
                    match &child.content {
                        Some((_, inner)) => {
                            let inner_dir = format!("{dir}{name}/");
                            self.read_module(child_path, file, &inner_dir, inner, files);
                        }
                        None => {
                            let (child_file, child_dir) = child_file(dir, &name, files);
                            let text = &files[&child_file];
                            let parsed = syn::parse_file(text)
                                .unwrap_or_else(|e| panic!("{child_file}: {e}"));
                            self.read_module(
                                child_path,
                                &child_file,
                                &child_dir,
                                &parsed.items,
                                files,
                            );
                        }
                    }
                }
                syn::Item::Use(item) => {
                    let exported = !matches!(item.vis, syn::Visibility::Inherited);
                    let mut flat = Vec::new();
                    flatten_use(&item.tree, &mut Vec::new(), &mut flat);
                    for (name, target) in flat {
                        if !exported {
                            module.paths.push(target.clone());
                        }
                        if let Some(name) = name {
                            module.aliases.insert(
                                name,
                                Alias {
                                    path: target,
                                    exported,
                                },
                            );
                        }
                    }
                }
                other => collector.visit_item(other),
            }
        }
        module.paths.extend(collector.paths);
        module.has_async = collector.has_async;
        self.modules.insert(path, module);
    }

    /// Every module, with the file it is in.
    pub fn modules(&self) -> impl Iterator<Item = (&ModPath, &str)> {
        self.modules.iter().map(|(path, m)| (path, m.file.as_str()))
    }

    /// Modules that have an `async fn` of their own.
    pub fn async_modules(&self) -> Vec<&ModPath> {
        self.modules
            .iter()
            .filter(|(_, m)| m.has_async)
            .map(|(path, _)| path)
            .collect()
    }

    /// Where each path a module names leads.
    pub fn targets(&self) -> Vec<(ModPath, Vec<String>, Target)> {
        let mut out = Vec::new();
        for (path, module) in &self.modules {
            for named in &module.paths {
                out.push((path.clone(), named.clone(), self.resolve(path, named)));
            }
        }
        out
    }

    /// The dependencies between modules: one edge per module, target and spelling.
    pub fn edges(&self) -> BTreeSet<Edge> {
        self.targets()
            .into_iter()
            .filter_map(|(from, named, target)| match target {
                Target::Local(to) if to != from => Some(Edge {
                    from,
                    to,
                    via: named.join("::"),
                }),
                _ => None,
            })
            .collect()
    }

    /// Resolves `path` as written in module `at`.
    pub fn resolve(&self, at: &ModPath, path: &[String]) -> Target {
        self.resolve_depth(at, path, 0)
    }

    fn resolve_depth(&self, at: &ModPath, path: &[String], depth: usize) -> Target {
        assert!(depth < 32, "a `use` loop at {at:?}: {path:?}");
        let Some((first, rest)) = path.split_first() else {
            return Target::Local(at.clone());
        };
        let start: ModPath = match first.as_str() {
            "crate" => vec![at[0].clone()],
            "self" => at.clone(),
            "super" => {
                let mut up = at.clone();
                up.pop();
                let mut rest = rest;
                while rest.first().is_some_and(|s| s == "super") {
                    up.pop();
                    rest = &rest[1..];
                }
                return self.walk(up, rest, depth);
            }
            "clambake_core" if self.modules.contains_key(&vec![first.clone()]) => {
                vec![first.clone()]
            }
            name => {
                let module = &self.modules[at];
                if module.children.contains(name) {
                    let mut child = at.clone();
                    child.push(name.to_owned());
                    return self.walk(child, rest, depth);
                }
                // `use jiff::{self}` binds `jiff` to the crate of that name, not to itself.
                if let Some(alias) = module.aliases.get(name).filter(|a| a.path[0] != name) {
                    let mut expanded = alias.path.clone();
                    expanded.extend(rest.iter().cloned());
                    return self.resolve_depth(at, &expanded, depth + 1);
                }
                return Target::External(path.to_vec());
            }
        };
        self.walk(start, rest, depth)
    }

    /// Follows `rest` down from module `from`: into child modules and through aliases, to
    /// the module where the named item is defined.
    fn walk(&self, from: ModPath, rest: &[String], depth: usize) -> Target {
        let mut here = from;
        for (i, segment) in rest.iter().enumerate() {
            let Some(module) = self.modules.get(&here) else {
                return Target::Local(here);
            };
            if module.children.contains(segment) {
                here.push(segment.clone());
            } else if let Some(alias) = module.aliases.get(segment) {
                let mut expanded = alias.path.clone();
                expanded.extend(rest[i + 1..].iter().cloned());
                return self.resolve_depth(&here, &expanded, depth + 1);
            } else {
                break;
            }
        }
        Target::Local(here)
    }

    /// Whether `module`'s `name` is a re-export (`pub use`), for tests of the reader.
    pub fn reexports(&self, module: &ModPath, name: &str) -> bool {
        self.modules[module]
            .aliases
            .get(name)
            .is_some_and(|alias| alias.exported)
    }
}

/// Whether an item is compiled only for tests: `#[cfg(test)]`.
fn is_test_only(item: &syn::Item) -> bool {
    let attrs = match item {
        syn::Item::Mod(m) => &m.attrs,
        syn::Item::Fn(f) => &f.attrs,
        syn::Item::Use(u) => &u.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Struct(s) => &s.attrs,
        syn::Item::Enum(e) => &e.attrs,
        syn::Item::Const(c) => &c.attrs,
        syn::Item::Static(s) => &s.attrs,
        syn::Item::Trait(t) => &t.attrs,
        syn::Item::Type(t) => &t.attrs,
        syn::Item::Macro(m) => &m.attrs,
        _ => return false,
    };
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "test")
    })
}

/// The file of `mod name;` declared in a module whose children live in `dir`, and the
/// directory of its own children.
fn child_file(dir: &str, name: &str, files: &BTreeMap<String, String>) -> (String, String) {
    let flat = format!("{dir}{name}.rs");
    let nested = format!("{dir}{name}/mod.rs");
    let file = if files.contains_key(&flat) {
        flat
    } else if files.contains_key(&nested) {
        nested
    } else {
        panic!("`mod {name};` in {dir}: neither {dir}{name}.rs nor {dir}{name}/mod.rs exists");
    };
    (file, format!("{dir}{name}/"))
}

/// Where the children of the module in `root` (a `lib.rs`, `main.rs` or `mod.rs`) live.
fn parent_dir(root: &str) -> String {
    match root.rfind('/') {
        Some(slash) => root[..=slash].to_owned(),
        None => String::new(),
    }
}

/// Flattens a `use` tree into (the name it binds, the path it stands for). A glob binds no
/// name; `self` in a group binds the group's module.
fn flatten_use(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Option<String>, Vec<String>)>,
) {
    match tree {
        syn::UseTree::Path(path) => {
            prefix.push(path.ident.to_string());
            flatten_use(&path.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(name) => {
            let ident = name.ident.to_string();
            if ident == "self" {
                out.push((prefix.last().cloned(), prefix.clone()));
            } else {
                let mut full = prefix.clone();
                full.push(ident.clone());
                out.push((Some(ident), full));
            }
        }
        syn::UseTree::Rename(rename) => {
            let mut full = prefix.clone();
            if rename.ident != "self" {
                full.push(rename.ident.to_string());
            }
            out.push((Some(rename.rename.to_string()), full));
        }
        syn::UseTree::Glob(_) => out.push((None, prefix.clone())),
        syn::UseTree::Group(group) => {
            for tree in &group.items {
                flatten_use(tree, prefix, out);
            }
        }
    }
}

/// Collects every path a module's own items name, skipping nested modules and test-only
/// items (they are read as modules of their own, or not at all).
#[derive(Default)]
struct PathCollector {
    paths: Vec<Vec<String>>,
    has_async: bool,
}

impl<'ast> Visit<'ast> for PathCollector {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.paths.push(
            path.segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect(),
        );
        syn::visit::visit_path(self, path);
    }

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {}

    /// A `use` inside a function or block: what it imports is named there.
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut flat = Vec::new();
        flatten_use(&item.tree, &mut Vec::new(), &mut flat);
        self.paths.extend(flat.into_iter().map(|(_, path)| path));
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test_only(item) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_impl_item_fn(&mut self, function: &'ast syn::ImplItemFn) {
        if function.attrs.iter().any(|attr| {
            attr.path().is_ident("cfg")
                && attr
                    .parse_args::<syn::Ident>()
                    .is_ok_and(|ident| ident == "test")
        }) {
            return;
        }
        syn::visit::visit_impl_item_fn(self, function);
    }

    fn visit_signature(&mut self, signature: &'ast syn::Signature) {
        self.has_async |= signature.asyncness.is_some();
        syn::visit::visit_signature(self, signature);
    }

    fn visit_expr_async(&mut self, block: &'ast syn::ExprAsync) {
        self.has_async = true;
        syn::visit::visit_expr_async(self, block);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if let Ok(args) =
            mac.parse_body_with(Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated)
        {
            for arg in &args {
                self.visit_expr(arg);
            }
        }
        syn::visit::visit_macro(self, mac);
    }
}
