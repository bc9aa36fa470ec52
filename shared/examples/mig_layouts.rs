//! Lists the placed MIG layouts of a built-in profile table, as `wattsweep mig layouts` will:
//! `cargo run -p wattsweep-shared --example mig_layouts -- h100-80gb 19,14,9,5,0 --maximal`.
//! The profile list is optional (all profiles); `--maximal` keeps only layouts nothing can be added to.

use wattsweep_shared::mig::{builtin_models, builtin_table, enumerate_layouts, maximal_layouts};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let maximal = args.iter().any(|a| a == "--maximal");
    let mut positional = args.iter().filter(|a| !a.starts_with("--"));
    let model = positional.next().map_or("h100-80gb", String::as_str);
    let table = builtin_table(model).ok_or_else(|| {
        format!(
            "no built-in MIG table for `{model}`; known: {}",
            builtin_models().collect::<Vec<_>>().join(", ")
        )
    })?;
    let ids = positional
        .next()
        .map(|list| {
            list.split(',')
                .map(|id| {
                    id.trim()
                        .parse::<u32>()
                        .map_err(|e| format!("profile id `{id}`: {e}"))
                })
                .collect::<Result<Vec<u32>, String>>()
        })
        .transpose()?;
    let layouts = if maximal {
        maximal_layouts(&table, ids.as_deref())
    } else {
        enumerate_layouts(&table, ids.as_deref())
    };
    for (i, layout) in layouts.iter().enumerate() {
        println!("{:>4}  {layout}", i + 1);
    }
    println!(
        "{} {}layouts on {model}",
        layouts.len(),
        if maximal { "maximal " } else { "" }
    );
    Ok(())
}
