import Core
import Foundation
import Ledger
import SQLKit
import Vapor

/// Pictures drawn on the server: a receivable's token tree and bar charts, as SVG.
package enum Charts {
    package static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    package static let statusColour: [String: String] = [
        "pending": "#b7791f", "active": "#2f855a", "locked": "#2b6cb0", "spent": "#a0aec0", "settled": "#4a5568", "expired": "#c53030",
    ]

    /// Each token a box (holder, amount, status), children under their parent, one row per
    /// generation; each node carries `data-token-id`.
    /// `hidden` counts, under a piece, the children left out of `tokens` and their amount: each
    /// becomes one grey box (`more(count, fen)` its caption) beside the children drawn.
    package static func tree(_ tokens: [Token], hidden: [TokenID: (count: Int64, amountFen: Int64)] = [:], names: [String: String], label: (String) -> String,
                     more: (Int64, Int64) -> String = { n, _ in "+\(n)" }) -> String {
        let byParent = Dictionary(grouping: tokens, by: { $0.parentId })
        let ids = Set(tokens.map(\.id))
        let roots = tokens.filter { $0.parentId == nil || !ids.contains($0.parentId!) }
        var positions: [TokenID: (x: Int, depth: Int)] = [:]
        var summaries: [(parent: TokenID, x: Int, depth: Int)] = []
        var nextX = 0
        var maxDepth = 0
        func place(_ t: Token, depth: Int) {
            maxDepth = max(maxDepth, depth)
            let children = byParent[t.id] ?? []
            let summarised = hidden[t.id] != nil
            if children.isEmpty && !summarised {
                positions[t.id] = (nextX, depth)
                nextX += 1
                return
            }
            for c in children { place(c, depth: depth + 1) }
            var xs = children.compactMap { positions[$0.id]?.x }
            if summarised {
                summaries.append((t.id, nextX, depth + 1))
                xs.append(nextX)
                maxDepth = max(maxDepth, depth + 1)
                nextX += 1
            }
            positions[t.id] = ((xs.min()! + xs.max()!) / 2, depth)
        }
        for r in roots { place(r, depth: 0) }
        let boxW = 170, boxH = 58, gapX = 16, gapY = 36
        let width = max(1, nextX) * (boxW + gapX) + gapX, height = (maxDepth + 1) * (boxH + gapY) + gapY
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"tree\" role=\"img\" viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\">"
        func origin(_ id: TokenID) -> (Int, Int)? {
            positions[id].map { (gapX + $0.x * (boxW + gapX), gapY / 2 + $0.depth * (boxH + gapY)) }
        }
        for t in tokens {
            guard let parent = t.parentId, let (px, py) = origin(parent), let (x, y) = origin(t.id) else { continue }
            svg += "<line x1=\"\(px + boxW / 2)\" y1=\"\(py + boxH)\" x2=\"\(x + boxW / 2)\" y2=\"\(y)\" stroke=\"#a0aec0\" stroke-width=\"1.5\"/>"
        }
        for t in tokens {
            guard let (x, y) = origin(t.id) else { continue }
            let colour = statusColour[t.status.rawValue] ?? "#4a5568"
            svg += "<g class=\"node\" data-token-id=\"\(t.id)\"><a href=\"/tokens/\(t.id)\">"
            svg += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(boxW)\" height=\"\(boxH)\" rx=\"6\" fill=\"#fff\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(x + 8)\" y=\"\(y + 18)\" font-size=\"12\" fill=\"#1a202c\">\(escape(String((names[t.holderId.description] ?? "").prefix(12))))</text>"
            svg += "<text x=\"\(x + 8)\" y=\"\(y + 35)\" font-size=\"13\" font-weight=\"600\" fill=\"#1a202c\">\(escape(Money.format(t.amountFen)))</text>"
            svg += "<text x=\"\(x + 8)\" y=\"\(y + 51)\" font-size=\"11\" fill=\"\(colour)\">T\(t.tier) · \(escape(label(t.status.rawValue)))</text>"
            svg += "</a></g>"
        }
        for s in summaries {
            guard let (px, py) = origin(s.parent), let (count, fen) = hidden[s.parent] else { continue }
            let x = gapX + s.x * (boxW + gapX), y = gapY / 2 + s.depth * (boxH + gapY)
            svg += "<line x1=\"\(px + boxW / 2)\" y1=\"\(py + boxH)\" x2=\"\(x + boxW / 2)\" y2=\"\(y)\" stroke=\"#cbd5e0\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>"
            svg += "<g class=\"more\"><rect x=\"\(x)\" y=\"\(y)\" width=\"\(boxW)\" height=\"\(boxH)\" rx=\"6\" fill=\"#f7fafc\" stroke=\"#a0aec0\" stroke-dasharray=\"4 3\"/>"
            svg += "<text x=\"\(x + 8)\" y=\"\(y + 33)\" font-size=\"12\" fill=\"#4a5568\">\(escape(more(count, fen)))</text></g>"
        }
        return svg + "</svg>"
    }

    /// Horizontal bars: one per label, scaled to the largest value, the amount written beside.
    package static func bars(_ rows: [(label: String, fen: Int64)], caption: String) -> String {
        let barMax = 320, rowH = 26, labelW = 110
        let top = rows.map(\.fen).max() ?? 0
        let height = max(1, rows.count) * rowH + 10
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" aria-label=\"\(escape(caption))\" viewBox=\"0 0 \(labelW + barMax + 140) \(height)\">"
        for (i, row) in rows.enumerated() {
            let w = top > 0 ? Int(Double(row.fen) / Double(top) * Double(barMax)) : 0
            let y = i * rowH + 5
            svg += "<text x=\"0\" y=\"\(y + 15)\" font-size=\"12\" fill=\"#4a5568\">\(escape(row.label))</text>"
            svg += "<rect x=\"\(labelW)\" y=\"\(y + 3)\" width=\"\(max(w, 1))\" height=\"16\" rx=\"3\" fill=\"#2c5282\"/>"
            svg += "<text x=\"\(labelW + max(w, 1) + 6)\" y=\"\(y + 15)\" font-size=\"12\" fill=\"#1a202c\">\(escape(Money.format(row.fen)))</text>"
        }
        return svg + "</svg>"
    }
}
