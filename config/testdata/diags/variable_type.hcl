variable "epochs" {
  type = number
}

variable "layers" {
  type    = list(number)
  default = [1, "two"]
}
