variable "out" {
  default = "out"
}

locals {
  dir = "${var.outt}/x"
}

stage "a" {
  command = "ls ${local.dri} ${path.root} ${vars.out}"
}
