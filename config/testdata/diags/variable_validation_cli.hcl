variable "rate" {
  type    = number
  default = 150
  validation {
    condition     = var.rate >= 100 && var.rate <= 200
    error_message = "rate must be between 100 and 200 Hz."
  }
}
