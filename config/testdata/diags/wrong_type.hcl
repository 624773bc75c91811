stage "a" {
  command = "true"
  retries = "three"
}

stage "b" {
  command = "true"
  enabled = "maybe"
}

stage "c" {
  kind = "train"
  config {
    epochs = [1, 2]
  }
}

stage "d" {
  timeout = "ten minutes"
}
