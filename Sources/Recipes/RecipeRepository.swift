import Foundation

/// The source tree's configuration: `recipes/<name>.yaml` (with `recipes/<name>/` for their files),
/// `boards/<name>.yaml` and `overlays/<name>/`. Loading checks everything a file can get wrong
/// and reports it as one `ConfigError` with its file:line:column.
public struct RecipeRepository: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    public func boardNames() -> [String] { names(in: "boards") }
    public func recipeNames() -> [String] { names(in: "recipes") }

    /// Loads and checks one board file, including that each overlay is a folder under `overlays/`.
    /// Recipes and the kernel are checked by `plan(board:)`.
    public func loadBoard(named name: String) throws -> Board {
        let known = boardNames()
        guard known.contains(name) else { throw ConfigError(location: nil, message: missing("board", name, known: known)) }
        let board = try Board.keys.decode(try ConfigFile.read(url(of: "boards", name), displayPath: "boards/\(name).yaml").root())
        for entry in board.overlayEntries { _ = try overlayDirectory(entry) }
        return board
    }

    /// Loads and checks one recipe file, including that every file it names exists in its folder.
    public func loadRecipe(named name: String) throws -> Recipe {
        try loadRecipe(named: name, referencedAt: nil, known: recipeNames())
    }

    /// The board's recipes and all their dependencies, dependencies first (ties by name), with
    /// every reference checked: recipes exist, no cycles, the kernel recipe is among them.
    public func plan(board: Board) throws -> BuildPlan {
        let known = recipeNames()
        var loaded: [String: Recipe] = [:]
        var pending = board.recipeEntries[...]
        while let entry = pending.popFirst() {
            guard loaded[entry.value] == nil else { continue }
            let recipe = try loadRecipe(named: entry.value, referencedAt: entry.location, known: known)
            loaded[recipe.name] = recipe
            pending.append(contentsOf: recipe.dependencyEntries)
        }
        guard loaded[board.kernel.recipe] != nil else {
            throw ConfigError(location: board.kernel.location(ofKey: "recipe"),
                              message: "kernel recipe '\(board.kernel.recipe)' is not among the board's recipes or their "
                                + "dependencies; add it to 'recipes'")
        }
        return BuildPlan(board: board, recipes: try BuildPlan.ordered(loaded),
                         overlays: try board.overlayEntries.map(overlayDirectory))
    }

    private func loadRecipe(named name: String, referencedAt reference: SourceLocation?, known: [String]) throws -> Recipe {
        guard known.contains(name) else { throw ConfigError(location: reference, message: missing("recipe", name, known: known)) }
        return try Recipe.keys.decode(try ConfigFile.read(url(of: "recipes", name), displayPath: "recipes/\(name).yaml").root())
    }

    private func overlayDirectory(_ entry: Located<String>) throws -> URL {
        let overlays = root.appendingPathComponent("overlays")
        let found: (relative: String, url: URL, isDirectory: Bool?)
        do {
            found = try ContainedPath.resolve(entry.value, in: overlays, folderName: "overlays/")
        } catch let invalid as InvalidValue {
            throw ConfigError(location: entry.location, message: invalid.message)
        }
        guard found.isDirectory == true else {
            throw ConfigError(location: entry.location,
                              message: "overlay '\(entry.value)' is not a directory under overlays/ (known: \(list(names(in: "overlays", suffix: ""))))")
        }
        return found.url
    }

    private func url(of folder: String, _ name: String) -> URL {
        root.appendingPathComponent(folder).appendingPathComponent("\(name).yaml")
    }

    /// Entries of `folder` ending in `suffix` (without it), sorted; `suffix` "" lists folders.
    private func names(in folder: String, suffix: String = ".yaml") -> [String] {
        Self.names(in: root.appendingPathComponent(folder), suffix: suffix)
    }

    /// Entries of `directory` ending in `suffix` (without it), sorted, hidden ones left out;
    /// `suffix` "" lists the folders.
    static func names(in directory: URL, suffix: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return entries.compactMap { entry -> String? in
            guard !entry.hasPrefix(".") else { return nil }
            if suffix.isEmpty {
                var isDirectory: ObjCBool = false
                let exists = FileManager.default.fileExists(atPath: directory.appendingPathComponent(entry).path,
                                                            isDirectory: &isDirectory)
                return exists && isDirectory.boolValue ? entry : nil
            }
            return entry.hasSuffix(suffix) ? String(entry.dropLast(suffix.count)) : nil
        }.sorted()
    }

    private func missing(_ what: String, _ name: String, known: [String]) -> String {
        "no \(what) '\(name)' (known: \(list(known)))"
    }

    private func list(_ names: [String]) -> String { names.isEmpty ? "none" : names.joined(separator: ", ") }
}
