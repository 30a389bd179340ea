import Foundation

/// What a board's image is made of, resolved and checked: pure values, printable, and enough for
/// every later step without reading the configuration again.
public struct BuildPlan: Sendable {
    public let board: Board
    /// Dependencies before their dependents; among recipes free to go next, by name, so the order
    /// (and everything keyed by it) is stable.
    public let recipes: [Recipe]
    /// `overlays/<name>/` folders, in the board's order.
    public let overlays: [URL]

    private let positions: [String: Int]

    init(board: Board, recipes: [Recipe], overlays: [URL]) {
        self.board = board
        self.recipes = recipes
        self.overlays = overlays
        positions = Dictionary(uniqueKeysWithValues: recipes.enumerated().map { ($1.name, $0) })
    }

    public func recipe(named name: String) -> Recipe? { positions[name].map { recipes[$0] } }

    /// Every recipe `name` depends on, directly or not, in plan order (without `name` itself);
    /// empty for a name that is not in the plan.
    public func dependencyClosure(of name: String) -> [String] {
        var seen: Set<String> = []
        var pending = recipe(named: name)?.depends ?? []
        while let next = pending.popLast() {
            if seen.insert(next).inserted { pending += recipe(named: next)?.depends ?? [] }
        }
        return recipes.map(\.name).filter(seen.contains)
    }

    /// Orders recipes whose dependencies are all present (Kahn's algorithm, smallest name first).
    static func ordered(_ recipes: [String: Recipe]) throws -> [Recipe] {
        var placed: Set<String> = []
        var remaining = Set(recipes.keys)
        var order: [Recipe] = []
        while !remaining.isEmpty {
            let ready = remaining.filter { recipes[$0]?.depends.allSatisfy(placed.contains) ?? true }
            guard let next = ready.min(), let recipe = recipes[next] else { throw cycle(among: remaining, recipes) }
            order.append(recipe)
            placed.insert(next)
            remaining.remove(next)
        }
        return order
    }

    /// Every recipe left unordered waits for another left unordered, so following the smallest
    /// such dependency from the smallest name must come back to a recipe already visited.
    private static func cycle(among remaining: Set<String>, _ recipes: [String: Recipe]) -> ConfigError {
        var path: [String] = []
        var current = remaining.min() ?? ""
        while !path.contains(current) {
            path.append(current)
            guard let next = recipes[current]?.depends.filter(remaining.contains).min() else { break }
            current = next
        }
        let cycle = path.drop(while: { $0 != current }) + [current]
        let closing = recipes[path.last ?? ""]?.dependencyEntries.first { $0.value == current }
        return ConfigError(location: closing?.location,
                           message: "dependency cycle \(cycle.joined(separator: " -> ")); remove one of these 'depends' entries")
    }
}
