//! Delimiter detection: the candidate that splits the first lines into the same,
//! largest number of cells wins.

const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
const SAMPLE_LINES: usize = 20;

pub fn delimiter(content: &[u8]) -> u8 {
    let mut best = (b',', 0usize, false);
    for &d in &CANDIDATES {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(d)
            .has_headers(false)
            .flexible(true)
            .from_reader(content);
        let counts: Vec<usize> = reader
            .records()
            .take(SAMPLE_LINES)
            .map_while(Result::ok)
            .map(|r| r.len())
            .collect();
        let Some(&first) = counts.first() else {
            continue;
        };
        let consistent = counts.iter().all(|&c| c == first);
        // Consistency first, then more columns; a delimiter that never splits scores 1.
        let better =
            (consistent && !best.2 && first > 1) || (consistent == best.2 && first > best.1);
        if better && first > 1 {
            best = (d, first, consistent);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn picks_the_consistent_delimiter() {
        assert_eq!(super::delimiter(b"a;b;c\n1;2;3\n4;5,5;6\n"), b';');
        assert_eq!(super::delimiter(b"a\tb\n1\t2\n"), b'\t');
        assert_eq!(super::delimiter(b"a,b\n1,2\n"), b',');
        assert_eq!(super::delimiter(b"single\ncolumn\n"), b',');
    }
}
