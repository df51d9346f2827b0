mod exact;
mod problem;
