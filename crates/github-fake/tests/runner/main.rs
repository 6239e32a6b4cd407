//! The fake's runner carrying out workflows with real bash and real git in temp dirs,
//! reporting to a recorder.

mod against_fake;
mod cancel;
mod expressions;
mod generated;
mod outcomes;
mod steps;
mod support;
