# Build the preprocessed window cache from a TUSZ tree and verify it.
#
#   pipe run pipelines/cache.hcl                                  # the real-header stubs in ../shared
#   pipe run pipelines/cache.hcl -var source=data/tusz/v2.0.0/edf -var 'expect={train=4667,dev=1832}'
#
# The stubs in ../shared/data/tusz_layout/tuh have real headers and csv_bi files
# but only 2 s of samples each: populate quarantines every one of them, naming
# the 2 s of data against the duration its csv_bi states, and verify then fails
# with "no window contains a seizure" for each split. That is the expected
# outcome there; on a real or demo corpus both stages succeed.

pipeline {
  description = "TUSZ EDF + csv_bi -> preprocessed 60 s windows (populate_cache), checked (verify_cache)."
}

variable "source" {
  type        = string
  default     = "../shared/data/tusz_layout/tuh"
  description = "TUSZ root holding train/, dev/ and eval/."
}

variable "out" {
  type    = string
  default = "out/cache"
}

variable "on_error" {
  type        = string
  default     = "skip"
  description = "\"skip\" quarantines bad recordings (listed in quarantine.json); \"fail\" stops at the first."
}

variable "expect" {
  type        = map(number)
  default     = {}
  description = "Recordings expected per split, e.g. { train = 4667, dev = 1832 } for TUSZ v2.0."
}

stage "populate" {
  description = "Read, preprocess (19 channels, 256 Hz, 0.5-120 Hz, 60 Hz notch, z-score) and store every recording."
  kind        = "populate_cache"
  config {
    source   = var.source
    dir      = var.out
    on_error = var.on_error
  }
}

stage "verify" {
  description = "Check every file against the manifest, the labels and the split counts."
  kind        = "verify_cache"
  config {
    cache  = stage.populate.dir
    expect = var.expect
  }
}
