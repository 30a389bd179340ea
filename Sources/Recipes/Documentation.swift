extension RecipeRepository {
    /// The Markdown reference of recipe and board keys, generated from the key tables the loader
    /// itself uses, so it lists exactly what is accepted.
    public static func documentation() -> String {
        let sections: [(heading: String, intro: String, table: String)] = [
            ("## Recipes: `recipes/<name>.yaml`",
             "One component of an image. Files a recipe names live in `recipes/<name>/`; paths are relative to it and may not leave it.",
             Recipe.keys.markdown),
            ("### `files` entries", "Each entry of a recipe's `files` list is a mapping:", RecipeFile.keys.markdown),
            ("## Boards: `boards/<name>.yaml`", "A target: its recipes, overlays, kernel, /usr and disk layout.",
             Board.keys.markdown),
            ("### `os`", "", Board.OS.keys.markdown),
            ("### `kernel`", "", Board.Kernel.keys.markdown),
            ("### `usr`", "", Board.Usr.keys.markdown),
            ("### `layout`", "", Board.Layout.keys.markdown),
            ("### `layout.partitions` entries",
             "Each partition number and each label may be used once. `type` is checked when the disk is planned.",
             Board.Partition.keys.markdown),
        ]
        let sizes = """
            ## Sizes

            A whole number of bytes (`4096`) or a whole number with a binary unit: \
            \(ByteSize.units.map { "`\($0.suffix)` (\($0.bytes))" }.joined(separator: ", ")). \
            Sizes must be positive multiples of \(ByteSize.sector) bytes; fractions (`1.5GiB`) and decimal units (`10MB`) are refused.

            """
        return """
            # Recipe and board reference

            Generated from the key tables the loader uses. Any other key is an error, reported with its \
            file:line:column, as is a wrong type, a missing required key or a reference to something that does not exist.


            """
            + sections.map { [$0.heading, $0.intro, $0.table].filter { !$0.isEmpty }.joined(separator: "\n\n") }
                .joined(separator: "\n")
            + "\n" + sizes
    }
}
