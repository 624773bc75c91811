variable "data" {
  type = string
}

stage "a" {
  command = "ls ${var.data}"
}
