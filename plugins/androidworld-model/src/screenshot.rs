//! Screenshots: the `/screenshot` body (`{"pixels": H×W×3 nested ints}`) parsed in
//! one pass without building a JSON tree, and downscaled to the observation size by
//! area averaging.

use crate::error::AwError;

/// An RGB frame: `height` rows of `width` pixels of 3 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, row-major.
    pub data: Vec<u8>,
}

impl Frame {
    /// The RGB value at (`x`, `y`).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y as usize * self.width as usize) + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Downscale (or resize) to `width` × `height` by area averaging: output pixel
    /// (ox, oy) is the rounded mean of the source box
    /// [ox·W/w, (ox+1)·W/w) × [oy·H/h, (oy+1)·H/h) (integer bounds, at least one
    /// pixel wide, so enlarging degenerates to nearest-neighbour). The aspect ratio is
    /// not preserved: the frame is stretched to the requested shape.
    pub fn resize(&self, width: u32, height: u32) -> Frame {
        let (sw, sh) = (self.width as usize, self.height as usize);
        let (w, h) = (width as usize, height as usize);
        let span = |o: usize, n: usize, src: usize| {
            let a = o * src / n;
            let b = ((o + 1) * src / n).max(a + 1).min(src);
            (a, b)
        };
        let cols: Vec<(usize, usize)> = (0..w).map(|o| span(o, w, sw)).collect();
        let mut data = Vec::with_capacity(w * h * 3);
        let mut acc = vec![[0u64; 3]; w];
        for oy in 0..h {
            let (y0, y1) = span(oy, h, sh);
            acc.iter_mut().for_each(|a| *a = [0; 3]);
            for y in y0..y1 {
                let row = &self.data[y * sw * 3..(y + 1) * sw * 3];
                for (a, &(x0, x1)) in acc.iter_mut().zip(&cols) {
                    for px in row[x0 * 3..x1 * 3].chunks_exact(3) {
                        a[0] += u64::from(px[0]);
                        a[1] += u64::from(px[1]);
                        a[2] += u64::from(px[2]);
                    }
                }
            }
            for (a, &(x0, x1)) in acc.iter().zip(&cols) {
                let n = ((x1 - x0) * (y1 - y0)) as u64;
                for c in a {
                    data.push(((c + n / 2) / n) as u8);
                }
            }
        }
        Frame {
            width,
            height,
            data,
        }
    }
}

/// Parse a `/screenshot` response body: a JSON object whose `pixels` member is an
/// H×W×C nested list of integers 0–255, C = 3 (RGB), 4 (RGBA: alpha dropped) or 1
/// (gray: replicated). Other members are skipped.
pub fn parse_screenshot(body: &[u8]) -> Result<Frame, AwError> {
    let mut p = Parser { b: body, i: 0 };
    p.ws();
    p.expect(b'{')?;
    let mut frame = None;
    p.ws();
    if !p.eat(b'}') {
        loop {
            p.ws();
            let key = p.string()?;
            p.ws();
            p.expect(b':')?;
            p.ws();
            if key == "pixels" {
                frame = Some(p.pixels()?);
            } else {
                p.skip_value()?;
            }
            p.ws();
            if p.eat(b'}') {
                break;
            }
            p.expect(b',')?;
        }
    }
    frame.ok_or_else(|| bad("the body has no `pixels` member".into()))
}

fn bad(why: String) -> AwError {
    AwError::External(format!("GET /screenshot: unexpected body: {why}"))
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\n' | b'\r' | b'\t') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), AwError> {
        if self.eat(c) {
            return Ok(());
        }
        Err(bad(match self.b.get(self.i) {
            Some(&g) => format!(
                "expected `{}` at byte {}, found `{}`",
                c as char, self.i, g as char
            ),
            None => format!("expected `{}` at byte {}, found the end", c as char, self.i),
        }))
    }

    fn string(&mut self) -> Result<String, AwError> {
        self.expect(b'"')?;
        let start = self.i;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    let s = String::from_utf8_lossy(&self.b[start..self.i]).into_owned();
                    self.i += 1;
                    return Ok(s);
                }
                _ => self.i += 1,
            }
        }
        Err(bad("an unterminated string".into()))
    }

    fn skip_value(&mut self) -> Result<(), AwError> {
        match self.b.get(self.i) {
            None => Err(bad("the body ends where a value was expected".into())),
            Some(b'"') => self.string().map(drop),
            Some(b'[' | b'{') => {
                let mut depth = 0usize;
                loop {
                    match self.b.get(self.i) {
                        None => return Err(bad("the body ends inside a value".into())),
                        Some(b'"') => {
                            self.string()?;
                        }
                        Some(b'[' | b'{') => {
                            depth += 1;
                            self.i += 1;
                        }
                        Some(b']' | b'}') => {
                            depth -= 1;
                            self.i += 1;
                            if depth == 0 {
                                return Ok(());
                            }
                        }
                        Some(_) => self.i += 1,
                    }
                }
            }
            Some(_) => {
                while let Some(c) = self.b.get(self.i) {
                    if matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace() {
                        break;
                    }
                    self.i += 1;
                }
                Ok(())
            }
        }
    }

    fn int(&mut self) -> Result<u8, AwError> {
        let start = self.i;
        let mut v: u32 = 0;
        while let Some(&d) = self.b.get(self.i).filter(|d| d.is_ascii_digit()) {
            v = v.saturating_mul(10).saturating_add(u32::from(d - b'0'));
            self.i += 1;
        }
        if self.i == start {
            return Err(bad(format!("expected a pixel value 0-255 at byte {start}")));
        }
        u8::try_from(v).map_err(|_| bad(format!("pixel value {v} is above 255")))
    }

    /// `[[[c, ...], ...], ...]` into RGB bytes.
    fn pixels(&mut self) -> Result<Frame, AwError> {
        let mut data: Vec<u8> = Vec::new();
        let mut width: Option<usize> = None;
        let mut channels: Option<usize> = None;
        let mut height = 0usize;
        self.expect(b'[')?;
        self.ws();
        if !self.eat(b']') {
            loop {
                self.ws();
                self.expect(b'[')?;
                let mut w = 0usize;
                self.ws();
                if !self.eat(b']') {
                    loop {
                        self.ws();
                        self.expect(b'[')?;
                        let mut px = [0u8; 4];
                        let mut c = 0usize;
                        loop {
                            self.ws();
                            let v = self.int()?;
                            if c < 4 {
                                px[c] = v;
                            }
                            c += 1;
                            self.ws();
                            if self.eat(b']') {
                                break;
                            }
                            self.expect(b',')?;
                        }
                        match channels {
                            None if matches!(c, 1 | 3 | 4) => channels = Some(c),
                            None => {
                                return Err(bad(format!(
                                    "a pixel has {c} channels (expected 3, 4 or 1)"
                                )));
                            }
                            Some(n) if n != c => {
                                return Err(bad(format!(
                                    "row {height}: a pixel has {c} channels, earlier ones {n}"
                                )));
                            }
                            Some(_) => {}
                        }
                        if c == 1 {
                            data.extend_from_slice(&[px[0], px[0], px[0]]);
                        } else {
                            data.extend_from_slice(&px[..3]);
                        }
                        w += 1;
                        self.ws();
                        if self.eat(b']') {
                            break;
                        }
                        self.expect(b',')?;
                    }
                }
                match width {
                    None => width = Some(w),
                    Some(n) if n != w => {
                        return Err(bad(format!(
                            "row {height} has {w} pixels, earlier rows {n}"
                        )));
                    }
                    Some(_) => {}
                }
                height += 1;
                self.ws();
                if self.eat(b']') {
                    break;
                }
                self.expect(b',')?;
            }
        }
        let width = width.unwrap_or(0);
        if width == 0 || height == 0 {
            return Err(bad(format!("an empty {height}×{width} screenshot")));
        }
        Ok(Frame {
            width: width as u32,
            height: height as u32,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(h: usize, w: usize, f: impl Fn(usize, usize) -> [u8; 3]) -> String {
        let rows: Vec<String> = (0..h)
            .map(|y| {
                let px: Vec<String> = (0..w)
                    .map(|x| {
                        let [r, g, b] = f(x, y);
                        format!("[{r},{g},{b}]")
                    })
                    .collect();
                format!("[{}]", px.join(","))
            })
            .collect();
        format!("{{\"pixels\":[{}]}}", rows.join(","))
    }

    #[test]
    fn parses_nested_pixels_with_any_spacing_and_members() {
        let f = parse_screenshot(body(2, 3, |x, y| [x as u8, y as u8, 200]).as_bytes()).unwrap();
        assert_eq!((f.width, f.height), (3, 2));
        assert_eq!(f.pixel(2, 1), [2, 1, 200]);
        let spaced = b"{ \"other\": {\"a\": [1, \"]\"]}, \"pixels\" : [ [ [1, 2, 3] , [4,5,6] ] ] , \"z\": 1 }";
        let f = parse_screenshot(spaced).unwrap();
        assert_eq!(f.data, [1, 2, 3, 4, 5, 6]);
        let rgba = parse_screenshot(b"{\"pixels\":[[[1,2,3,255]]]}").unwrap();
        assert_eq!(rgba.data, [1, 2, 3]);
        let gray = parse_screenshot(b"{\"pixels\":[[[7],[9]]]}").unwrap();
        assert_eq!(gray.data, [7, 7, 7, 9, 9, 9]);
    }

    #[test]
    fn malformed_screenshots_are_external_errors_that_say_why() {
        let msg = |b: &[u8]| parse_screenshot(b).unwrap_err().to_string();
        assert!(msg(b"{\"status\":\"x\"}").contains("no `pixels`"));
        assert!(msg(b"{\"pixels\":[]}").contains("empty"));
        assert!(msg(b"{\"pixels\":[[[1,2,3]],[[1,2,3],[1,2,3]]]}").contains("row 1 has 2 pixels"));
        assert!(msg(b"{\"pixels\":[[[1,2]]]}").contains("2 channels"));
        assert!(msg(b"{\"pixels\":[[[1,2,3],[1,2,3,4]]]}").contains("4 channels, earlier ones 3"));
        assert!(msg(b"{\"pixels\":[[[1,2,300]]]}").contains("300 is above 255"));
        assert!(msg(b"{\"pixels\":[[[1,2,-3]]]}").contains("pixel value"));
        assert!(msg(b"{\"pixels\":[[[1,2,3]]").contains("the end"));
        assert!(msg(b"Internal Server Error").starts_with("GET /screenshot"));
    }

    #[test]
    fn downscaling_averages_each_box() {
        // 4×2 -> 2×1: each output pixel averages a 2×2 box.
        let f = parse_screenshot(
            body(2, 4, |x, y| {
                [(x * 10 + y) as u8, if x < 2 { 0 } else { 255 }, 9]
            })
            .as_bytes(),
        )
        .unwrap();
        let small = f.resize(2, 1);
        assert_eq!((small.width, small.height), (2, 1));
        // box 0: values 0,1,10,11 -> mean 5.5 rounds to 6; box 1: 20,21,30,31 -> 25.5 -> 26
        assert_eq!(small.data, [6, 0, 9, 26, 255, 9]);
        // Uneven ratios cover every source pixel exactly once.
        let f = parse_screenshot(body(5, 7, |_, _| [100, 50, 0]).as_bytes()).unwrap();
        let s = f.resize(3, 2);
        assert_eq!(s.data.len(), 3 * 2 * 3);
        assert!(s.data.chunks(3).all(|p| p == [100, 50, 0]));
        // Enlarging repeats pixels (nearest neighbour).
        let f = parse_screenshot(body(1, 2, |x, _| [x as u8 * 100, 0, 0]).as_bytes()).unwrap();
        assert_eq!(
            f.resize(4, 2)
                .data
                .chunks(3)
                .map(|p| p[0])
                .collect::<Vec<_>>(),
            [0, 0, 100, 100, 0, 0, 100, 100]
        );
        // The same size is the identity.
        assert_eq!(f.resize(2, 1), f);
    }
}
