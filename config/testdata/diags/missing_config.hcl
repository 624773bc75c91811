stage "fit" {
  kind = "train"
}
