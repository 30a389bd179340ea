print("coresdk")
