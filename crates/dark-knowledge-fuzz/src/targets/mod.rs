//! The fuzz targets: one per parser (or per file of a saved model).

mod cache;
mod checkpoint;
mod experiment;
mod idx;
mod logits;
mod model;
mod store;
mod tabular;
mod token_cache;

use crate::Target;

/// Every target, in the order `all` runs them.
pub const ALL: &[Target] = &[
    Target {
        name: "csv",
        about: "CSV text: CsvTable, then TabularEncoder fit, encode_rows and its JSON round trip",
        make: tabular::csv,
    },
    Target {
        name: "encoder-json",
        about: "a saved encoder: TabularEncoder::from_json, then encode_record",
        make: tabular::encoder_json,
    },
    Target {
        name: "idx",
        about: "IDX images and labels in memory: parse_idx_images, parse_idx_labels",
        make: idx::idx_memory,
    },
    Target {
        name: "idx-gz",
        about: "an IDX file, gzip-compressed or not: read_idx_images, read_idx_labels",
        make: idx::idx_file,
    },
    Target {
        name: "npy",
        about: "a .npy logit file: read_npy, read_logits",
        make: logits::npy_target,
    },
    Target {
        name: "safetensors",
        about: "a safetensors logit file: read_safetensors, read_logits",
        make: logits::safetensors_target,
    },
    Target {
        name: "cache",
        about: "a teacher-logit cache: TeacherCache::open, dense_row, topk_row, rows",
        make: cache::cache,
    },
    Target {
        name: "token-cache",
        about: "a top-k token-logit cache (safetensors): TokenLogitCache::open, get, to_full_logits",
        make: token_cache::token_cache,
    },
    Target {
        name: "store",
        about: "a row store: RowStore::open, stored_row, to_dataset",
        make: store::store,
    },
    Target {
        name: "model-json",
        about: "model.json of a saved model (valid weights beside it): load_saved_model",
        make: model::model_json,
    },
    Target {
        name: "model-bpk",
        about: "model.bpk, float weights (valid model.json beside it): load_saved_model",
        make: model::model_bpk,
    },
    Target {
        name: "model-q8",
        about: "model.q8, int8 weights (valid model.json beside it): load_saved_model",
        make: model::model_q8,
    },
    Target {
        name: "model-trees",
        about: "trees.json, boosted trees (valid model.json beside it): load_saved_model",
        make: model::model_trees,
    },
    Target {
        name: "checkpoint",
        about: "a training checkpoint, resumed by Trainer::resuming().fit",
        make: checkpoint::checkpoint,
    },
    Target {
        name: "experiment",
        about: "an experiment file: Experiment::from_toml and its validation",
        make: experiment::experiment,
    },
];

/// The target called `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    ALL.iter().find(|t| t.name == name)
}
