MESSAGE = "from the layer"
