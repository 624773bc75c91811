stage "fit" {
  kind = "train"
  config {
    epochs = 3
    dta    = "x"
  }
}
