import Foundation
import XCTest
@testable import Recipes

final class BuildPlanTests: RepositoryTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try fixture.writeDebianRecipe("linux-kernel")
    }

    private func plan() throws -> BuildPlan {
        let repository = fixture.repository
        return try repository.plan(board: try repository.loadBoard(named: "amd64-usr"))
    }

    func testDependenciesComeFirstAndTiesGoByName() throws {
        try fixture.writeDebianRecipe("app", depends: ["lib-b", "lib-a"])
        try fixture.writeDebianRecipe("lib-b", depends: ["lib-c"])
        try fixture.writeDebianRecipe("lib-a")
        try fixture.writeDebianRecipe("lib-c")
        try fixture.writeDebianRecipe("z")
        try fixture.writeDebianRecipe("unused")
        try fixture.writeBoard(recipes: ["z", "linux-kernel", "app"])
        let plan = try plan()
        XCTAssertEqual(plan.recipes.map(\.name), ["lib-a", "lib-c", "lib-b", "app", "linux-kernel", "z"])
        XCTAssertEqual(plan.dependencyClosure(of: "app"), ["lib-a", "lib-c", "lib-b"])
        XCTAssertEqual(plan.dependencyClosure(of: "lib-b"), ["lib-c"])
        XCTAssertEqual(plan.dependencyClosure(of: "z"), [])
        XCTAssertEqual(plan.dependencyClosure(of: "not-in-plan"), [])
        XCTAssertEqual(plan.recipe(named: "app")?.depends, ["lib-b", "lib-a"])
        XCTAssertEqual(plan.board.name, "amd64-usr")
    }

    /// Asserts that a board listing linux-kernel and `listed`, with `recipes` (name: depends),
    /// fails to plan at `location`.
    private func assertPlan(of recipes: KeyValuePairs<String, [String]>, listing listed: String, failsAt location: String,
                            _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for (name, depends) in recipes { try fixture.writeDebianRecipe(name, depends: depends) }
        try fixture.writeBoard(recipes: ["linux-kernel", listed])
        XCTAssertConfigError(try plan(), at: location, message, file: file, line: line)
    }

    func testCycleIsShownAndReportedAtTheDependsEntryThatClosesIt() throws {
        try assertPlan(of: ["a": ["b"], "b": ["c"], "c": ["a"]], listing: "a", failsAt: "recipes/c.yaml:3:11",
                       "dependency cycle a -> b -> c -> a")
    }

    func testCycleReachedThroughAnotherRecipeShowsOnlyTheCycle() throws {
        try assertPlan(of: ["x": ["y"], "y": ["y2"], "y2": ["y"]], listing: "x", failsAt: "recipes/y2.yaml:3:11",
                       "dependency cycle y -> y2 -> y;")
    }

    func testRecipeDependingOnItselfIsACycle() throws {
        try assertPlan(of: ["a": ["a"]], listing: "a", failsAt: "recipes/a.yaml:3:11", "dependency cycle a -> a")
    }

    func testUnknownDependencyIsReportedAtTheDependsEntry() throws {
        try assertPlan(of: ["a": ["nope"]], listing: "a", failsAt: "recipes/a.yaml:3:11",
                       "no recipe 'nope' (known: a, linux-kernel)")
    }

    func testUnknownBoardRecipeIsReportedAtTheBoardEntry() throws {
        try fixture.writeBoard(recipes: ["linux-kernel", "nope"])
        XCTAssertConfigError(try plan(), at: "boards/amd64-usr.yaml:3:25", "no recipe 'nope' (known: linux-kernel)")
    }

    func testKernelRecipeMustBeInThePlan() throws {
        try fixture.writeDebianRecipe("systemd")
        try fixture.writeBoard(recipes: ["systemd"])
        XCTAssertConfigError(try plan(), at: "boards/amd64-usr.yaml:4:18",
                             "kernel recipe 'linux-kernel' is not among the board's recipes or their dependencies")
    }

    func testKernelRecipeMayComeInAsADependency() throws {
        try fixture.writeDebianRecipe("base", depends: ["linux-kernel"])
        try fixture.writeBoard(recipes: ["base"])
        XCTAssertEqual(try plan().recipes.map(\.name), ["linux-kernel", "base"])
    }

    func testOverlaysResolveToTheirDirectoriesInBoardOrder() throws {
        try fixture.makeDirectory("overlays/base")
        try fixture.makeDirectory("overlays/vendor/extra")
        try fixture.writeBoard(extra: "overlays: [vendor/extra, base]")
        XCTAssertEqual(try plan().overlays.map(\.path),
                       ["overlays/vendor/extra", "overlays/base"].map { fixture.root.appendingPathComponent($0).path })
    }

    /// The repository's own boards and recipes must always load and plan.
    func testRepositoryBoardsAndRecipesAreValid() throws {
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let repository = RecipeRepository(root: root)
        try XCTSkipIf(repository.boardNames().isEmpty, "no boards/ next to the tests")
        for name in repository.recipeNames() { _ = try repository.loadRecipe(named: name) }
        for name in repository.boardNames() {
            let plan = try repository.plan(board: try repository.loadBoard(named: name))
            XCTAssertNotNil(plan.recipe(named: plan.board.kernel.recipe))
        }
    }
}
