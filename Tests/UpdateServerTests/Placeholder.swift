import XCTest

final class PlaceholderUpdateServerTests: XCTestCase {}
