# The smoke path alone: demo data -> cache -> a short training run with
# every layer checked for finite values. Runs as is on a fresh clone.
#
#   pipe run pipelines/smoke.hcl
#   pipe run pipelines/smoke.hcl -var seed=7

pipeline {
  description = "Smoke test: demo data -> cache -> a few training steps with debug_finite."
}

variable "seed" {
  type        = number
  default     = 1
  description = "Seed of the demo data, sampling, initialisation and dropout."
}

variable "out" {
  type        = string
  default     = "out/smoke"
  description = "Directory every stage writes under."
}

stage "demo" {
  description = "Generate a small deterministic demo corpus."
  kind        = "demo_data"
  config {
    out      = "${var.out}/demo"
    seed     = var.seed
    patients = { train = 4, dev = 2, eval = 1 }
    minutes  = 5
  }
}

stage "populate" {
  description = "Preprocess the demo corpus into 8 s windows."
  kind        = "populate_cache"
  config {
    source   = stage.demo.dir
    dir      = "${var.out}/cache"
    window_s = 8
    stride_s = 4
  }
}

stage "smoke" {
  description = "Two short epochs of the demo profile, every layer checked for finiteness."
  kind        = "train"
  config {
    cache               = stage.populate.dir
    dir                 = "${var.out}/train"
    seed                = var.seed
    epochs              = 2
    max_steps_per_epoch = 8
    batch_size          = 8
    lr                  = 2e-3
    patience            = 0
    debug_finite        = true
    val_window_step     = 2
    model               = { preset = "demo" }
  }
}
