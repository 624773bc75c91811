# The whole seizure-detection pipeline: data -> cache -> checks -> smoke
# training -> training -> evaluation on held-out patients.
#
#   pipe run pipelines/full.hcl                                   # demo data, 2 CPU cores, <= 10 min
#   pipe run pipelines/full.hcl -var data_dir=/data/tusz/v2.0.0/edf -var profile=a100
#
# With data_dir empty the demo_data stage generates a deterministic
# TUSZ-layout corpus of synthetic EEG; with data_dir set it is disabled and
# populate reads the real corpus. The profile chooses the sizes: "demo" is
# the V3 architecture scaled down to train on two CPU cores in minutes,
# "a100" the original project's TUSZ settings (60 s windows, batch 64,
# lr 3e-5, clip 0.5, warmup 3 %, 100 epochs, fp32 on the GPU). See the
# README section "Training".
#
# A killed run resumes: `pipe run` again continues the train stage from its
# newest valid checkpoint, mid-epoch.

pipeline {
  description = "EEG seizure detection: demo or TUSZ data -> cache -> smoke -> train -> evaluate."
}

variable "data_dir" {
  type        = string
  default     = ""
  description = "TUSZ root holding train/, dev/ and eval/; empty generates demo data."
}

variable "profile" {
  type        = string
  default     = "demo"
  description = "\"demo\" (2 CPU cores, minutes) or \"a100\" (TUSZ scale on one GPU)."
  validation {
    condition     = contains(["demo", "a100"], var.profile)
    error_message = "profile must be \"demo\" or \"a100\"."
  }
}

variable "model_device" {
  type        = string
  default     = ""
  description = "Override the profile's model device: \"cpu\" (fp32), \"cuda\" or \"auto\"; empty keeps the profile's."
  validation {
    condition     = contains(["", "cpu", "cuda", "auto"], var.model_device)
    error_message = "model_device must be \"\", \"cpu\", \"cuda\" or \"auto\"."
  }
}

variable "out" {
  type        = string
  default     = "out/full"
  description = "Directory every stage writes under."
}

variable "seed" {
  type        = number
  default     = 1
  description = "Seed of the demo data, sampling, initialisation and dropout."
}

locals {
  profiles = {
    demo = {
      window_s   = 8
      stride_s   = 4
      epochs     = 10
      max_steps  = 0
      batch_size = 16
      background = 1.5
      lr         = 3e-3
      clip_norm  = 1
      warmup     = 0.05
      patience   = 3
      workers    = 2
      minutes    = 1
      val_step   = 2
      eval_step  = 2
      model      = { preset = "demo" }
    }
    a100 = {
      window_s   = 60
      stride_s   = 10
      epochs     = 100
      max_steps  = 0
      batch_size = 64
      background = 2.5
      lr         = 3e-5
      clip_norm  = 0.5
      warmup     = 0.03
      patience   = 10
      workers    = 8
      minutes    = 30
      val_step   = 2
      eval_step  = 1
      model      = { preset = "a100", device = "cuda", precision = "fp32" } # bf16: not implemented
    }
  }
  p = local.profiles[var.profile]
  model = var.model_device == "" ? local.p.model : merge(local.p.model, {
    device    = var.model_device
    precision = var.model_device == "cuda" ? lookup(local.p.model, "precision", "fp32") : "fp32"
  })
}

stage "demo" {
  description = "Generate deterministic demo EEG in the TUSZ layout (only without data_dir)."
  kind        = "demo_data"
  enabled     = var.data_dir == ""
  config {
    out     = "${var.out}/demo"
    seed    = var.seed
    minutes = 6
  }
}

stage "populate" {
  description = "Preprocess every recording into the window cache."
  kind        = "populate_cache"
  config {
    source   = var.data_dir == "" ? stage.demo.dir : var.data_dir
    dir      = "${var.out}/cache"
    window_s = local.p.window_s
    stride_s = local.p.stride_s
    on_error = "skip"
  }
}

stage "verify" {
  description = "Check the cache before training on it."
  kind        = "verify_cache"
  config {
    cache = stage.populate.dir
  }
}

stage "kernels" {
  description = "Check the detector's kernels against their float64 references (quick set)."
  kind        = "test_kernels"
  config {
    quick = true
  }
}

stage "smoke" {
  description = "A few steps on a few recordings with every layer checked for finiteness."
  kind        = "train"
  depends_on  = [stage.verify, stage.kernels]
  config {
    cache               = stage.populate.dir
    dir                 = "${var.out}/smoke"
    seed                = var.seed
    epochs              = 2
    max_steps_per_epoch = 8
    limit_files         = 8
    debug_finite        = true
    patience            = 0
    batch_size          = local.p.batch_size
    lr                  = local.p.lr
    val_window_step     = local.p.val_step
    model               = local.model
    workers             = local.p.workers
  }
}

stage "train" {
  description = "Train the V3 detector; validation on dev every epoch, early stopping on AUROC."
  kind        = "train"
  depends_on  = [stage.smoke]
  config {
    cache                    = stage.populate.dir
    dir                      = "${var.out}/train"
    seed                     = var.seed
    epochs                   = local.p.epochs
    max_steps_per_epoch      = local.p.max_steps
    batch_size               = local.p.batch_size
    lr                       = local.p.lr
    clip_norm                = local.p.clip_norm
    background_ratio         = local.p.background
    warmup_ratio             = local.p.warmup
    early_stop_metric        = "auroc"
    patience                 = local.p.patience
    abort                    = ["auroc < 0.55 after epoch 3"]
    checkpoint_every_minutes = local.p.minutes
    val_window_step          = local.p.val_step
    workers                  = local.p.workers
    model                    = local.model
  }
}

stage "evaluate" {
  description = "Score held-out eval patients with thresholds chosen on dev; report.json/md and plots."
  kind        = "evaluate"
  config {
    checkpoint  = stage.train.checkpoint
    cache       = stage.populate.dir
    dir         = "${var.out}/evaluate"
    split       = "eval"
    window_step = local.p.eval_step
    workers     = local.p.workers
  }
}
