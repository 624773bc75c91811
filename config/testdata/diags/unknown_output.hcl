stage "fit" {
  kind = "train"
  config {
    epochs = 3
  }
}

stage "use" {
  command = "cp ${stage.fit.modle} ."
}
