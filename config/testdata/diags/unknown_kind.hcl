stage "fit" {
  kind = "trian"
}
