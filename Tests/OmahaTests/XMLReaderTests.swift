import Omaha
import XCTest

/// What the reader takes, and what it refuses with the line and column a log would point to.
final class XMLReaderTests: XCTestCase {
    func testReadsDeclarationCommentsInstructionsCDATAAndReferences() throws {
        let root = try XMLDocument.parse("""
            \u{FEFF}<?xml version="1.0" encoding="utf-8" standalone="yes"?>
            <!-- written by hand -->
            <?stylesheet href="x"?>
            <response protocol='3.0' server = "r&amp;d &lt;1&gt;">
              <note>&quot;a&apos; &#65;&#x42;&#x1F600; <![CDATA[<not a tag> & raw]]></note>
              <empty/>
              <ünïcode näme="ok"></ünïcode>
            </response >
            <!-- trailing comment -->

            """)
        XCTAssertEqual(root.name, "response")
        XCTAssertEqual(root.attributes.map(\.name), ["protocol", "server"])
        XCTAssertEqual(root[attribute: "server"], "r&d <1>")
        XCTAssertEqual(root.children.map(\.name), ["note", "empty", "ünïcode"])
        XCTAssertEqual(root.child("note")?.text, "\"a' AB😀 <not a tag> & raw")
        XCTAssertEqual(root.child("ünïcode")?[attribute: "näme"], "ok")
        XCTAssertEqual(root.text, "", "indentation between children is not text")
    }

    func testNormalisesLineEndsAndAttributeWhitespaceAsXMLRequires() throws {
        let root = try XMLDocument.parse("<a v=\"one\r\ntwo\tthree&#10;four\">x\r\ny\rz</a>")
        XCTAssertEqual(root[attribute: "v"], "one two three\nfour")
        XCTAssertEqual(root.text, "x\ny\nz")
    }

    func testRefusesEachMalformedConstructAtItsLineAndColumn() {
        let cases: [(document: String, line: Int, column: Int, message: String)] = [
            ("<?xml version=\"1.0\"?>\n<!DOCTYPE request [\n<!ENTITY a \"b\">]>\n<request/>", 2, 1, "DOCTYPE is not accepted"),
            ("<request>\n  <app></ap>\n</request>", 2, 8, "</ap> does not close <app> (opened at line 2, column 3)"),
            ("<request>\n  <app>\n", 3, 1, "<app> (opened at line 2, column 3) is not closed"),
            ("<request>\n</request></request>", 2, 11, "</request> closes no open element"),
            ("<app appid=\"a\" appid=\"b\"/>", 1, 16, "attribute appid appears twice in <app>"),
            ("<1app/>", 1, 2, "expected element name"),
            ("<app 9x=\"1\"/>", 1, 6, "expected attribute name"),
            ("<app a=\"1\"b=\"2\"/>", 1, 11, "expected whitespace, > or /> in <app>"),
            ("<app a=1/>", 1, 8, "the value of a must be in \" or ' quotes"),
            ("<app a=\"x<y\"/>", 1, 10, "< is not allowed in the value of a"),
            ("<a>R&D</a>", 1, 5, "& does not start a reference"),
            ("<a b=\"R&D\"/>", 1, 8, "& does not start a reference"),
            ("<a>&lol;</a>", 1, 4, "unknown entity &lol;"),
            ("<a>&#0;</a>", 1, 4, "&#0; is not a valid character reference"),
            ("<a>&#xD800;</a>", 1, 4, "&#xD800; is not a valid character reference"),
            ("<a>&#x110000;</a>", 1, 4, "&#x110000; is not a valid character reference"),
            ("<a>&#x-1;</a>", 1, 4, "&#x-1; is not a valid character reference"),
            ("<a/>\n<b/>", 2, 1, "<b> is a second root element after </a>"),
            ("hello <a/>", 1, 1, "text before the root element"),
            ("<a/>\n x", 2, 2, "text after </a>"),
            ("<a>]]></a>", 1, 4, "]]> is not allowed in text"),
            ("<a><!-- a -- b --></a>", 1, 11, "'--' is not allowed inside a comment"),
            ("<a><!-- open", 1, 4, "the comment is not closed with -->"),
            ("<a><![CDATA[open</a>", 1, 4, "the CDATA section is not closed with ]]>"),
            ("<![CDATA[x]]><a/>", 1, 1, "CDATA before the root element"),
            ("<a><!ELEMENT a ANY></a>", 1, 4, "markup declarations are not accepted"),
            ("\n<?xml version=\"1.0\"?><a/>", 2, 1, "the XML declaration is allowed only at the very start"),
            ("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>", 1, 1, "encoding \"ISO-8859-1\" is not supported"),
            ("<?xml encoding=\"UTF-8\"?><a/>", 1, 1, "the XML declaration must start with version"),
            ("<a>\u{0}</a>", 1, 4, "character U+0000 is not allowed in XML"),
            ("<a>\u{1B}</a>", 1, 4, "character U+001B is not allowed in XML"),
            ("<a", 1, 1, "the tag <a is not closed with >"),
            ("</a>", 1, 1, "</a> closes no open element"),
            ("", 1, 1, "the document has no root element"),
            ("<!-- only a comment -->", 1, 24, "the document has no root element"),
        ]
        for (document, line, column, message) in cases {
            let error = rejection(document)
            XCTAssertEqual(error.map { [$0.line, $0.column] }, [line, column], "\(document.debugDescription): \(error?.message ?? "accepted")")
            XCTAssertTrue(error?.message.hasPrefix(message) == true, "\(document.debugDescription): \(error?.message ?? "accepted")")
        }
    }

    func testRefusesInvalidUTF8WhereItStarts() {
        let prefix = Array("<request>\n  <os sp=\"é".utf8)
        for (bad, name) in [([0xC3, 0x28], "truncated sequence"), ([0xC0, 0xAF], "overlong /"), ([0xED, 0xA0, 0x80], "surrogate"),
                            ([0xF4, 0x90, 0x80, 0x80], "above U+10FFFF"), ([0xFF], "0xFF")] as [([UInt8], String)] {
            let error = rejection(bytes: prefix + bad + Array("\"/></request>".utf8))
            XCTAssertEqual(error?.description, "line 2, column 12: invalid UTF-8", name)
        }
    }

    func testErrorDescriptionNamesLineAndColumn() {
        XCTAssertEqual(rejection("<a>\n<b></a>")?.description, "line 2, column 4: </a> does not close <b> (opened at line 2, column 1)")
    }

    /// "Billion laughs": ten entities each ten times the previous. With the DTD refused there is
    /// nothing to expand, and the reader stops at the DOCTYPE without looking further.
    func testEntityBombIsRefusedAtTheDoctypeWithoutExpanding() {
        var bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
        for level in 1...9 {
            bomb += " <!ENTITY lol\(level) \"" + String(repeating: "&lol\(level == 1 ? "" : String(level - 1));", count: 10) + "\">\n"
        }
        bomb += "]>\n<lolz>" + String(repeating: "&lol9;", count: 100_000) + "</lolz>\n"
        // Refused where the DTD starts: nothing after it, entities included, is ever expanded.
        let error = rejection(bomb)
        XCTAssertEqual(error?.line, 2)
        XCTAssertEqual(error?.column, 1)
        XCTAssertTrue(error?.message.contains("DOCTYPE") == true)
        // The same references without their DTD name entities that do not exist.
        XCTAssertEqual(rejection("<lolz>" + String(repeating: "&lol9;", count: 100_000) + "</lolz>")?.message,
                       "unknown entity &lol9;: only &lt; &gt; &amp; &quot; &apos; and &#N; exist without a DTD")
    }

    func testDeepNestingStopsAtTheDepthLimitWithoutRecursing() {
        let deep = String(repeating: "<a>", count: 100_000)
        let error = rejection(deep)
        XCTAssertEqual(error?.description, "line 1, column 97: elements are nested more than 32 deep")
        // Even a caller asking for no limit gets the ceiling that keeps tree operations off the stack's edge.
        let unlimited = rejection(deep, limits: XMLLimits(maxDepth: .max))
        XCTAssertEqual(unlimited?.message, "elements are nested more than \(XMLLimits.depthCeiling) deep")
        let allowed = String(repeating: "<a>", count: 32) + String(repeating: "</a>", count: 32)
        XCTAssertNoThrow(try XMLDocument.parse(allowed))
    }

    func testLimitsBoundElementsAttributesTextAndSize() {
        XCTAssertEqual(rejection("<a><b/><c/><d/></a>", limits: XMLLimits(maxElements: 3))?.description,
                       "line 1, column 12: the document has more than 3 elements")
        XCTAssertEqual(rejection("<a b=\"12345\"/>", limits: XMLLimits(maxAttributeLength: 4))?.description,
                       "line 1, column 6: the value of b is longer than 4 bytes")
        XCTAssertEqual(rejection("<a>12<!---->34</a>", limits: XMLLimits(maxTextLength: 3))?.description,
                       "line 1, column 13: the text of <a> is longer than 3 bytes")
        XCTAssertEqual(rejection("<a b=\"1\" c=\"2\"/>", limits: XMLLimits(maxAttributesPerElement: 1))?.description,
                       "line 1, column 10: <a> has more than 1 attributes")
        XCTAssertEqual(rejection("<abcdef/>", limits: XMLLimits(maxNameLength: 5))?.description,
                       "line 1, column 2: element name is longer than 5 bytes")
        XCTAssertEqual(rejection("<a>\n" + String(repeating: "x", count: 100) + "</a>", limits: XMLLimits(maxBytes: 50))?.description,
                       "line 2, column 47: the document is larger than 50 bytes")
        XCTAssertEqual(rejection(bytes: Array(repeating: UInt8(ascii: " "), count: 2 << 20))?.message,
                       "the document is larger than 1048576 bytes")
    }

    private func rejection(_ text: String, limits: XMLLimits = .default) -> XMLError? {
        rejection(bytes: Array(text.utf8), limits: limits)
    }

    private func rejection(bytes: [UInt8], limits: XMLLimits = .default) -> XMLError? {
        do throws(XMLError) {
            _ = try XMLDocument.parse(bytes, limits: limits)
            return nil
        } catch {
            return error
        }
    }
}
