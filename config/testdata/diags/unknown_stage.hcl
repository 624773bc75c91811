stage "prepare" {
  command = "echo prepare"
}

stage "train" {
  command = "echo ${stage.prepar.outputs[0]}"
}
