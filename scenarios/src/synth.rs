pub fn tensor_plan(_m: &crate::ModelSpec, _q: crate::Quant) -> Vec<TensorPlan> {
    todo!()
}
pub struct TensorPlan;
impl TensorPlan {
    pub fn elements(&self) -> u64 {
        0
    }
}
